import AsyncHTTPClient
import Foundation
import Logging
import MirrorRuntime
import MirrorJSON
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import NPMNames

/// The HTTP side of CouchDB that the record store needs: one database, its documents, revisions and
/// `_bulk_docs`. Every request carries Basic authentication (when configured), has a deadline, and is
/// retried a bounded number of times when it got no answer, a 5xx or a 429.
public struct CouchDBClient: Sendable {
    /// The current revision of a document, as `_all_docs` reports it.
    public enum Revision: Sendable, Hashable {
        /// The document exists with this revision.
        case live(String)
        /// The document was deleted; this is its tombstone's revision.
        case deleted(String)
    }

    /// One entry of a `_bulk_docs` answer: `ok` with the new `rev`, or an `error`/`reason`.
    public struct BulkDocsResult: Sendable, Hashable {
        public var id: String?
        public var rev: String?
        public var error: String?
        public var reason: String?
    }

    /// An answer with its status, headers and parsed JSON body (nil when empty or not JSON).
    public struct Response: Sendable {
        public var status: Int
        public var headers: HTTPHeaders
        public var json: JSONValue?
    }

    public let configuration: CouchDBConfiguration
    private let httpClient: HTTPClient
    private let logger: Logger
    private let authorization: String?
    private let baseURL: String

    public init(configuration: CouchDBConfiguration, httpClient: HTTPClient = .shared, logger: Logger = Logger(label: "npm-mirror.records")) {
        self.configuration = configuration
        self.httpClient = httpClient
        var logger = logger
        logger[metadataKey: LogKey.server] = .string(configuration.url.absoluteString)
        logger[metadataKey: LogKey.database] = .string(configuration.database)
        self.logger = logger
        if let user = configuration.user {
            let token = Data("\(user):\(configuration.password ?? "")".utf8).base64EncodedString()
            self.authorization = "Basic \(token)"
        } else {
            self.authorization = nil
        }
        var base = configuration.url.absoluteString
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
    }

    // MARK: Database

    /// `PUT /db`. Returns true when created, false when it existed already (412 `file_exists`).
    @discardableResult
    public func createDatabase() async throws -> Bool {
        let response = try await self.send(.PUT, path: [])
        switch response.status {
        case 201, 202: return true
        case 412 where response.json?["error"]?.stringValue == "file_exists": return false
        default: throw self.error(for: response, operation: "PUT /\(self.configuration.database)")
        }
    }

    /// `DELETE /db`. Returns true when deleted, false when there was no such database.
    @discardableResult
    public func deleteDatabase() async throws -> Bool {
        let response = try await self.send(.DELETE, path: [])
        switch response.status {
        case 200, 202: return true
        case 404: return false
        default: throw self.error(for: response, operation: "DELETE /\(self.configuration.database)")
        }
    }

    /// `GET /db`: `doc_count`, `update_seq`, …
    public func databaseInfo() async throws -> JSONValue {
        let response = try await self.send(.GET, path: [])
        return try self.expectJSON(response, statuses: [200], operation: "GET /\(self.configuration.database)")
    }

    // MARK: Documents

    /// `GET /db/{id}`: the document with `_id` and `_rev`, or nil when missing or deleted.
    public func document(id: String) async throws -> JSONValue? {
        let response = try await self.send(.GET, path: [id])
        if response.status == 404, response.json?["error"]?.stringValue == "not_found",
            response.json?["reason"]?.stringValue != "Database does not exist."
        {
            return nil
        }
        return try self.expectJSON(response, statuses: [200], operation: "GET /\(self.configuration.database)/{id}")
    }

    /// Current revisions of `ids` in one request (`POST /db/_all_docs` with `keys`). Ids that never existed are absent.
    public func revisions(ids: [String]) async throws -> [String: Revision] {
        try await self.currentDocuments(ids: ids, includingBodies: false).mapValues(\.revision)
    }

    /// Current revisions of `ids` and, with `includingBodies`, the bodies of the live ones, in one
    /// request (`POST /db/_all_docs` with `keys`, `include_docs=true`). Ids that never existed are absent.
    public func currentDocuments(ids: [String], includingBodies: Bool) async throws -> [String: (revision: Revision, body: [String: JSONValue]?)] {
        guard !ids.isEmpty else { return [:] }
        let operation = "POST /\(self.configuration.database)/_all_docs"
        let body: JSONValue = .object(["keys": .array(ids.map(JSONValue.string))])
        let query = includingBodies ? [("include_docs", "true")] : []
        let json = try self.expectJSON(try await self.send(.POST, path: ["_all_docs"], query: query, body: body), statuses: [200], operation: operation)
        guard let rows = json["rows"]?.arrayValue else {
            throw RecordStoreError.invalidResponse("_all_docs answer without rows", operation: operation)
        }
        var documents: [String: (revision: Revision, body: [String: JSONValue]?)] = [:]
        for row in rows {
            guard let id = row["id"]?.stringValue, let rev = row["value"]?["rev"]?.stringValue else { continue }  // {"key","error":"not_found"}
            let revision: Revision = row["value"]?["deleted"]?.boolValue == true ? .deleted(rev) : .live(rev)
            documents[id] = (revision, row["doc"]?.objectValue)
        }
        return documents
    }

    /// `POST /db/_bulk_docs`: one result per document, in order. Throws when the whole request fails
    /// (CouchDB answers 400 for the whole batch when one document has an illegal id).
    public func bulkDocs(_ documents: [JSONValue]) async throws -> [BulkDocsResult] {
        let operation = "POST /\(self.configuration.database)/_bulk_docs"
        let response = try await self.send(.POST, path: ["_bulk_docs"], body: .object(["docs": .array(documents)]))
        let json = try self.expectJSON(response, statuses: [201, 202], operation: operation)
        guard let entries = json.arrayValue, entries.count == documents.count else {
            throw RecordStoreError.invalidResponse(
                "_bulk_docs answered \(json.arrayValue?.count ?? 0) results for \(documents.count) documents",
                operation: operation
            )
        }
        return entries.map { entry in
            BulkDocsResult(
                id: entry["id"]?.stringValue,
                rev: entry["rev"]?.stringValue,
                error: entry["error"]?.stringValue,
                reason: entry["reason"]?.stringValue
            )
        }
    }

    /// `GET /db/_all_docs?include_docs=true&limit=N`, from `startKey` (inclusive) to `endKey`
    /// (exclusive) when given: rows in id order (byte order), each with its `doc`.
    public func allDocuments(startKey: String? = nil, endKey: String? = nil, limit: Int) async throws -> [JSONValue] {
        let operation = "GET /\(self.configuration.database)/_all_docs"
        var query = [("include_docs", "true"), ("limit", String(max(0, limit)))]
        // Keys are JSON: a string in quotes, escaped.
        if let startKey { query.append(("startkey", JSONValue.string(startKey).serialized)) }
        if let endKey { query += [("endkey", JSONValue.string(endKey).serialized), ("inclusive_end", "false")] }
        let response = try await self.send(.GET, path: ["_all_docs"], query: query)
        let json = try self.expectJSON(response, statuses: [200], operation: operation)
        guard let rows = json["rows"]?.arrayValue else {
            throw RecordStoreError.invalidResponse("_all_docs answer without rows", operation: operation)
        }
        return rows
    }

    /// One page of `GET /db/_changes?since=S&limit=N&include_docs=true`: the documents changed since
    /// `since` (nil: from the start, where every document appears once, at its current revision), in
    /// the order the database committed them, and the seq to ask from next. `pending` is how many
    /// changes remain after this page, when the database says.
    public func changes(since: String?, limit: Int) async throws -> ChangesPage {
        let operation = "GET /\(self.configuration.database)/_changes"
        var query = [("include_docs", "true"), ("limit", String(max(1, limit)))]
        if let since { query.append(("since", since)) }
        let json = try self.expectJSON(try await self.send(.GET, path: ["_changes"], query: query), statuses: [200], operation: operation)
        guard let results = json["results"]?.arrayValue, let lastSeq = json["last_seq"].flatMap(Self.seqText) else {
            throw RecordStoreError.invalidResponse("_changes answer without results or last_seq", operation: operation)
        }
        let changes = results.compactMap { result -> ChangesPage.Change? in
            guard let id = result["id"]?.stringValue else { return nil }
            return ChangesPage.Change(id: id, deleted: result["deleted"]?.boolValue == true, document: result["doc"]?.objectValue)
        }
        return ChangesPage(changes: changes, rowCount: results.count, lastSeq: lastSeq, pending: json["pending"]?.intValue)
    }

    /// A CouchDB seq as text: a string in CouchDB 2 and later, a number in 1.x.
    private static func seqText(_ value: JSONValue) -> String? {
        value.stringValue ?? value.intValue.map(String.init)
    }

    /// What ``changes(since:limit:)`` answers.
    public struct ChangesPage: Sendable {
        public struct Change: Sendable {
            public var id: String
            public var deleted: Bool
            /// The document at its current revision (`_id`, `_rev` included); for a deleted one, only those.
            public var document: [String: JSONValue]?
        }
        public var changes: [Change]
        /// Rows in the answer (a row without an id is not a change, but counts toward the page).
        public var rowCount: Int
        public var lastSeq: String
        public var pending: Int?
    }

    // MARK: Requests

    /// Sends one request to `/{database}/{path…}` (each path element percent-encoded), retrying as configured.
    /// Answers of any status are returned; only transport failures (and retriable statuses once attempts run out) throw.
    public func send(
        _ method: HTTPMethod,
        path: [String],
        query: [(String, String)] = [],
        body: JSONValue? = nil
    ) async throws -> Response {
        let segments = [self.configuration.database] + path
        var url = self.baseURL + "/" + segments.map(Self.percentEncoded).joined(separator: "/")
        if !query.isEmpty {
            url += "?" + query.map { "\(Self.percentEncoded($0.0))=\(Self.percentEncoded($0.1))" }.joined(separator: "&")
        }
        // For errors and logs: the path with the database, but never a query or credentials.
        let operation = "\(method.rawValue) /" + ([self.configuration.database] + path.prefix(1).map { $0.hasPrefix("_") ? $0 : "{id}" })
            .joined(separator: "/")
        let bodyBytes = body?.serializedBytes

        // Exponential from `initialBackoff`, capped at `maxBackoff`: the project's one retry loop, with
        // at most `maxAttempts` tries. A request in flight is not cut by a graceful shutdown; the tries
        // after it are not made.
        var backoff = Backoff(base: self.configuration.retry.initialBackoff, cap: self.configuration.retry.maxBackoff)
        var last: (any Error)?
        let response = try await retrying(
            "send \(operation) to CouchDB", backoff: &backoff, logger: self.logger,
            metadata: [LogKey.operation: "\(operation)"],
            attempts: self.configuration.retry.maxAttempts,
            count: { last = $0 },
            isRetriable: { ($0 as? RecordStoreError)?.isRetriable ?? false },
            cancelledByShutdown: false
        ) { [self, url] in
            let response = try await self.execute(method, url: url, body: bodyBytes, operation: operation)
            // A busy or failing server: asked again; its answer is the error when the tries run out.
            if response.status >= 500 || response.status == 429 { throw self.error(for: response, operation: operation) }
            return response
        }
        guard let response else { throw last ?? CancellationError() }
        return response
    }

    private func execute(_ method: HTTPMethod, url: String, body: [UInt8]?, operation: String) async throws -> Response {
        var request = HTTPClientRequest(url: url)
        request.method = method
        request.headers.add(name: "Accept", value: "application/json")
        if let authorization = self.authorization {
            request.headers.add(name: "Authorization", value: authorization)
        }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        let deadline = NIODeadline.now() + TimeAmount(self.configuration.requestTimeout)
        do {
            let response = try await self.httpClient.execute(request, deadline: deadline)
            let bytes = try await response.body.collect(upTo: self.configuration.maxResponseBytes)
            let json: JSONValue? = bytes.readableBytes == 0 ? nil : try? JSONValue(parsing: bytes.readableBytesView)
            self.logger.trace(
                "CouchDB answered",
                metadata: [LogKey.operation: .string(operation), LogKey.status: .stringConvertible(response.status.code)]
            )
            return Response(status: Int(response.status.code), headers: response.headers, json: json)
        } catch is CancellationError {
            throw CancellationError()
        } catch {
            if Task.isCancelled { throw CancellationError() }
            // Transport errors name host and port at most: credentials never reach the HTTP client.
            throw RecordStoreError.unavailable(Self.describeTransportError(error), operation: operation)
        }
    }

    private static func describeTransportError(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded: return "request timed out (deadline exceeded)"
            case .readTimeout: return "read timed out"
            case .connectTimeout: return "connect timed out"
            case .remoteConnectionClosed: return "connection closed by the server"
            default: return "HTTP client error: \(error)"
            }
        }
        return "\(error)"
    }

    func expectJSON(_ response: Response, statuses: Set<Int>, operation: String) throws -> JSONValue {
        guard statuses.contains(response.status) else { throw self.error(for: response, operation: operation) }
        guard let json = response.json else {
            throw RecordStoreError.invalidResponse("HTTP \(response.status) without a JSON body", operation: operation)
        }
        return json
    }

    /// The error an unexpected answer means.
    func error(for response: Response, operation: String) -> RecordStoreError {
        let serverError = response.json?["error"]?.stringValue
        let reason = response.json?["reason"]?.stringValue ?? "HTTP \(response.status)"
        return RecordStoreError(
            code: Self.code(status: response.status, serverError: serverError),
            status: response.status,
            serverError: serverError,
            reason: reason,
            operation: operation
        )
    }

    static func code(status: Int, serverError: String?) -> RecordStoreError.Code {
        switch (status, serverError) {
        case (400, "illegal_docid"): .illegalDocID
        case (400, _), (405, _), (415, _): .badRequest
        case (401, _): .unauthorized
        case (403, _): .forbidden
        case (404, _): .notFound
        case (409, _): .conflict
        case (412, _): .preconditionFailed
        case (413, _): .requestTooLarge
        case (429, _): .unavailable
        case (500..., _): .serverError
        default: .invalidResponse
        }
    }

    /// Code for one failed document of a `_bulk_docs` answer.
    static func code(bulkError: String) -> RecordStoreError.Code {
        switch bulkError {
        case "conflict": .conflict
        case "forbidden": .forbidden
        case "unauthorized": .unauthorized
        case "illegal_docid": .illegalDocID
        case "document_too_large", "too_large": .requestTooLarge
        case "bad_request", "doc_validation": .badRequest
        default: .serverError
        }
    }

    /// Percent-encodes everything but RFC 3986 unreserved characters: `@types/node` → `%40types%2Fnode`.
    public static func percentEncoded(_ string: String) -> String {
        URLEncoding.encode(string)
    }
}

/// Logger metadata keys of this module, in one place.
enum LogKey {
    static let server = "couchdb.server"
    static let database = "couchdb.database"
    static let operation = "couchdb.operation"
    static let status = "couchdb.status"
    static let batchSize = "records.batch_size"
}
