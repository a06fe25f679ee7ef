import Crypto
import Foundation
import MirrorJSON

/// CouchDB 3.x semantics without HTTP: databases, documents, MVCC revisions, `_bulk_docs`, `_all_docs`, `_changes`.
///
/// Pure value type; `CouchDBDouble` keeps one behind a lock and feeds it requests. Behaviour follows
/// a recording of a real CouchDB 3.5.0 (`Tests/Fixtures/couchdb-recorded`); where the recording is silent,
/// the CouchDB documentation. Single node, one revision branch per document (no `new_edits: false`, no attachments).
struct CouchDBModel: Sendable {
    struct Document: Sendable {
        var rev: String
        var body: [String: JSONValue]  // without _id / _rev
        var deleted: Bool
        var seq: Int
    }

    struct Database: Sendable {
        var documents: [String: Document] = [:]
        var updateSeq = 0

        var docCount: Int { self.documents.values.count { !$0.deleted } }
        var deletedCount: Int { self.documents.values.count { $0.deleted } }
    }

    /// A request as the model sees it: percent-decoded path segments, decoded query, body bytes.
    struct Request: Sendable {
        enum Credentials: Sendable, Equatable {
            case none
            case basic(user: String, password: String)
        }

        var method: String
        var rawPath: String  // without the query, still percent-encoded (for Location)
        var segments: [String]
        var query: [String: String]
        var credentials: Credentials
        var ifMatch: String?
        var host: String
        var body: [UInt8]
    }

    struct Response: Sendable {
        var status: Int
        var json: JSONValue?
        var etag: String? = nil
        var location: String? = nil
    }

    /// Per-document `_bulk_docs` error injected by a test.
    struct InjectedDocumentError: Sendable {
        var error: String
        var reason: String
        var remaining: Int
    }

    let adminUser: String
    let adminPassword: String
    let uuid: String
    var databases: [String: Database] = [:]
    /// "db\0id" → how many further writes of that document are pre-empted by a write from "someone else".
    var conflictStorms: [String: Int] = [:]
    /// "db\0id" → error to answer for that document inside `_bulk_docs`.
    var documentErrors: [String: InjectedDocumentError] = [:]

    init(adminUser: String, adminPassword: String) {
        self.adminUser = adminUser
        self.adminPassword = adminPassword
        self.uuid = Self.md5Hex(Array(UUID().uuidString.utf8))
    }

    // MARK: Errors as CouchDB words them

    static func error(_ status: Int, _ error: String, _ reason: String) -> Response {
        Response(status: status, json: ["error": .string(error), "reason": .string(reason)])
    }

    static let databaseDoesNotExist = error(404, "not_found", "Database does not exist.")
    static let conflict = error(409, "conflict", "Document update conflict.")
    static let invalidJSON = error(400, "bad_request", "invalid UTF-8 JSON")
    static let illegalDocID = error(400, "illegal_docid", "Only reserved document ids may start with underscore.")
    static let notAServerAdmin = error(401, "unauthorized", "You are not a server admin.")
    static let wrongCredentials = error(401, "unauthorized", "Name or password is incorrect.")
    static let notAuthorizedForDB = error(401, "unauthorized", "You are not authorized to access this db.")

    static func methodNotAllowed(_ allowed: String) -> Response {
        error(405, "method_not_allowed", "Only \(allowed) allowed")
    }

    private struct Failure: Error {
        var response: Response
        init(_ response: Response) { self.response = response }
    }

    // MARK: Dispatch

    mutating func handle(_ request: Request) -> Response {
        // Basic credentials are checked on every request, before anything else.
        var isAdmin = false
        if case .basic(let user, let password) = request.credentials {
            guard user == self.adminUser, password == self.adminPassword else { return Self.wrongCredentials }
            isAdmin = true
        }
        let segments = request.segments
        guard let first = segments.first else {
            return request.method == "GET" || request.method == "HEAD" ? self.welcome() : Self.methodNotAllowed("GET,HEAD")
        }
        if first.hasPrefix("_") {
            switch first {
            case "_up": return Response(status: 200, json: ["status": "ok", "seeds": [:]])
            case "_all_dbs":
                guard isAdmin else { return Self.notAServerAdmin }
                return Response(status: 200, json: .array(self.databases.keys.sorted().map(JSONValue.string)))
            default:
                return Self.error(400, "illegal_database_name", Self.illegalDatabaseNameReason(first))
            }
        }
        let db = first
        if segments.count == 1 {
            switch request.method {
            case "PUT":
                guard isAdmin else { return Self.notAServerAdmin }
                return self.createDatabase(db, request: request)
            case "DELETE":
                guard isAdmin else { return Self.notAServerAdmin }
                guard self.databases.removeValue(forKey: db) != nil else { return Self.databaseDoesNotExist }
                return Response(status: 200, json: ["ok": true])
            default:
                break
            }
        }
        guard self.databases[db] != nil else { return Self.databaseDoesNotExist }
        guard isAdmin else { return Self.notAuthorizedForDB }

        do {
            if segments.count == 1 {
                switch request.method {
                case "GET", "HEAD": return self.databaseInfo(db)
                case "POST": return try self.postDocument(db, request: request)
                default: return Self.methodNotAllowed("DELETE,GET,HEAD,POST,PUT")
                }
            }
            switch segments[1] {
            case "_bulk_docs":
                guard request.method == "POST" else { return Self.methodNotAllowed("POST") }
                return try self.bulkDocs(db, request: request)
            case "_all_docs":
                guard request.method == "GET" || request.method == "HEAD" || request.method == "POST" else {
                    return Self.methodNotAllowed("GET,HEAD,POST")
                }
                return try self.allDocs(db, request: request)
            case "_changes":
                guard request.method == "GET" || request.method == "HEAD" || request.method == "POST" else {
                    return Self.methodNotAllowed("GET,HEAD,POST")
                }
                return self.changes(db, request: request)
            default:
                let id: String
                if (segments[1] == "_design" || segments[1] == "_local"), segments.count >= 3 {
                    id = segments[1] + "/" + segments[2...].joined(separator: "/")
                } else if segments.count == 2 {
                    id = segments[1]
                } else {
                    return Self.error(404, "not_found", "missing")  // attachments are not modelled
                }
                return try self.document(db, id: id, request: request)
            }
        } catch let failure as Failure {
            return failure.response
        } catch {
            return Self.error(500, "unknown_error", "\(error)")
        }
    }

    // MARK: Server and databases

    private func welcome() -> Response {
        Response(
            status: 200,
            json: [
                "couchdb": "Welcome",
                "version": "3.5.0",
                "git_sha": "double",
                "uuid": .string(self.uuid),
                "features": ["quickjs", "access-ready", "partitioned", "pluggable-storage-engines", "reshard", "scheduler"],
                "vendor": ["name": "The Apache Software Foundation"],
            ]
        )
    }

    /// The server's rule (`^[a-z][a-z0-9_$()+/-]*$`), stated here rather than taken from the client it checks.
    static func isLegalDatabaseName(_ name: String) -> Bool {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789_$()+-/".unicodeScalars)
        guard let first = name.unicodeScalars.first, first >= "a", first <= "z" else { return false }
        return name.unicodeScalars.allSatisfy(allowed.contains)
    }

    static func illegalDatabaseNameReason(_ name: String) -> String {
        "Name: '\(name)'. Only lowercase characters (a-z), digits (0-9), and any of the characters _, $, (, ), +, -, and / are allowed. Must begin with a letter."
    }

    private mutating func createDatabase(_ db: String, request: Request) -> Response {
        guard Self.isLegalDatabaseName(db) else {
            return Self.error(400, "illegal_database_name", Self.illegalDatabaseNameReason(db))
        }
        guard self.databases[db] == nil else {
            return Self.error(412, "file_exists", "The database could not be created, the file already exists.")
        }
        self.databases[db] = Database()
        return Response(status: 201, json: ["ok": true], location: "http://\(request.host)\(request.rawPath)")
    }

    private func databaseInfo(_ db: String) -> Response {
        let database = self.databases[db]!
        let external = database.documents.values.reduce(0) { $0 + JSONValue.object($1.body).serializedBytes.count }
        return Response(
            status: 200,
            json: [
                "instance_start_time": "0",
                "db_name": .string(db),
                "purge_seq": .string(Self.sequence(0, db: db)),
                "update_seq": .string(Self.sequence(database.updateSeq, db: db)),
                "sizes": ["file": .number(Double(16_000 + external * 2)), "external": .number(Double(external)), "active": .number(Double(external))],
                "props": [:],
                "doc_del_count": .number(Double(database.deletedCount)),
                "doc_count": .number(Double(database.docCount)),
                "disk_format_version": 8,
                "compact_running": false,
                "cluster": ["q": 2, "n": 1, "w": 1, "r": 1],
            ]
        )
    }

    // MARK: Documents

    private mutating func document(_ db: String, id: String, request: Request) throws -> Response {
        switch request.method {
        case "GET", "HEAD":
            guard let document = self.databases[db]!.documents[id] else { return Self.error(404, "not_found", "missing") }
            guard !document.deleted else { return Self.error(404, "not_found", "deleted") }
            var json = document.body
            json["_id"] = .string(id)
            json["_rev"] = .string(document.rev)
            return Response(status: 200, json: .object(json), etag: document.rev)
        case "PUT":
            guard !id.hasPrefix("_") || id.hasPrefix("_design/") || id.hasPrefix("_local/") else { return Self.illegalDocID }
            let parsed = try Self.parseObject(request.body)
            var doc = try Self.validatedDocument(parsed, id: id)
            if let queryRev = request.query["rev"] ?? request.ifMatch.map(Self.unquoted) {
                if let bodyRev = doc.rev, bodyRev != queryRev {
                    throw Failure(Self.error(400, "bad_request", "Document rev from request body and query string have different values"))
                }
                doc.rev = try Self.validatedRev(queryRev)
            }
            switch self.write(doc, db: db) {
            case .success(let rev):
                self.assignSequences(ids: [id], db: db)
                return Response(
                    status: 201,
                    json: ["ok": true, "id": .string(id), "rev": .string(rev)],
                    etag: rev,
                    location: "http://\(request.host)\(request.rawPath)"
                )
            case .failure(let failure):
                return failure.response
            }
        case "DELETE":
            guard let existing = self.databases[db]!.documents[id] else { return Self.error(404, "not_found", "missing") }
            guard !existing.deleted else { return Self.error(404, "not_found", "deleted") }
            let rev = try (request.query["rev"] ?? request.ifMatch.map(Self.unquoted)).map(Self.validatedRev)
            switch self.write(PendingWrite(id: id, rev: rev, body: [:], deleted: true), db: db) {
            case .success(let rev):
                self.assignSequences(ids: [id], db: db)
                return Response(status: 200, json: ["ok": true, "id": .string(id), "rev": .string(rev)], etag: rev)
            case .failure(let failure):
                return failure.response
            }
        default:
            return Self.methodNotAllowed("COPY,DELETE,GET,HEAD,PUT")
        }
    }

    private mutating func postDocument(_ db: String, request: Request) throws -> Response {
        let parsed = try Self.parseObject(request.body)
        let id = parsed["_id"]?.stringValue ?? Self.newID()
        let doc = try Self.validatedDocument(parsed, id: id)
        switch self.write(doc, db: db) {
        case .success(let rev):
            self.assignSequences(ids: [id], db: db)
            return Response(status: 201, json: ["ok": true, "id": .string(id), "rev": .string(rev)], etag: rev)
        case .failure(let failure):
            return failure.response
        }
    }

    private mutating func bulkDocs(_ db: String, request: Request) throws -> Response {
        let parsed = try Self.parseObject(request.body)
        guard let docsValue = parsed["docs"] else {
            throw Failure(Self.error(400, "bad_request", "POST body must include `docs` parameter."))
        }
        guard let docs = docsValue.arrayValue else {
            throw Failure(Self.error(400, "bad_request", "`docs` parameter must be an array."))
        }
        if parsed["new_edits"] == .bool(false) {
            throw Failure(Self.error(501, "not_implemented", "new_edits=false is not modelled by the CouchDB double"))
        }
        // Every document is validated before any is written: one bad document fails the whole request.
        let writes: [PendingWrite] = try docs.map { doc in
            guard let object = doc.objectValue else {
                throw Failure(Self.error(400, "bad_request", "Document must be a JSON object"))
            }
            let id: String
            switch object["_id"] {
            case .none: id = Self.newID()
            case .string(let string): id = string
            default: throw Failure(Self.error(400, "illegal_docid", "Document id must be a string"))
            }
            return try Self.validatedDocument(object, id: id)
        }
        var results: [JSONValue] = []
        var written: Set<String> = []
        for write in writes {
            let key = Self.key(db, write.id)
            if var injected = self.documentErrors[key] {
                injected.remaining -= 1
                self.documentErrors[key] = injected.remaining > 0 ? injected : nil
                results.append(["id": .string(write.id), "error": .string(injected.error), "reason": .string(injected.reason)])
                continue
            }
            switch self.write(write, db: db) {
            case .success(let rev):
                written.insert(write.id)
                results.append(["ok": true, "id": .string(write.id), "rev": .string(rev)])
            case .failure:
                results.append(["id": .string(write.id), "error": "conflict", "reason": "Document update conflict."])
            }
        }
        self.assignSequences(ids: written, db: db)
        return Response(status: 201, json: .array(results))
    }

    private func allDocs(_ db: String, request: Request) throws -> Response {
        let database = self.databases[db]!
        let includeDocs = request.query["include_docs"] == "true"
        var keys: [JSONValue]? = nil
        if request.method == "POST" {
            let parsed = try Self.parseObject(request.body)
            if let value = parsed["keys"] {
                guard let array = value.arrayValue else {
                    throw Failure(Self.error(400, "bad_request", "`keys` body member must be an array."))
                }
                keys = array
            }
        } else if let text = request.query["keys"] {
            guard let array = (try? JSONValue(parsing: text))?.arrayValue else {
                throw Failure(Self.error(400, "bad_request", "`keys` member must be an array."))
            }
            keys = array
        }
        func row(_ id: String, _ document: Document) -> JSONValue {
            var value: [String: JSONValue] = ["rev": .string(document.rev)]
            if document.deleted { value["deleted"] = true }
            var row: [String: JSONValue] = ["id": .string(id), "key": .string(id), "value": .object(value)]
            if includeDocs {
                if document.deleted {
                    row["doc"] = .null
                } else {
                    var doc = document.body
                    doc["_id"] = .string(id)
                    doc["_rev"] = .string(document.rev)
                    row["doc"] = .object(doc)
                }
            }
            return .object(row)
        }
        if let keys {
            let rows: [JSONValue] = keys.map { key in
                guard let id = key.stringValue, let document = database.documents[id] else {
                    return ["key": key, "error": "not_found"]
                }
                return row(id, document)
            }
            return Response(status: 200, json: ["total_rows": .number(Double(database.docCount)), "offset": .null, "rows": .array(rows)])
        }
        // `_all_docs` collates raw: byte order of the ids. `startkey` is inclusive; `endkey` too unless
        // `inclusive_end=false`. Keys are JSON strings.
        func key(_ names: String...) throws -> [UInt8]? {
            guard let text = names.lazy.compactMap({ request.query[$0] }).first else { return nil }
            guard let key = (try? JSONValue(parsing: text))?.stringValue else {
                throw Failure(Self.error(400, "bad_request", "Invalid JSON for \(names[0]): \(text)"))
            }
            return Array(key.utf8)
        }
        let start = try key("startkey", "start_key")
        let end = try key("endkey", "end_key")
        let inclusiveEnd = request.query["inclusive_end"] != "false"
        var live = database.documents.filter { !$0.value.deleted }.sorted { Array($0.key.utf8).lexicographicallyPrecedes(Array($1.key.utf8)) }
        let before = live.count
        if let start { live.removeAll { Array($0.key.utf8).lexicographicallyPrecedes(start) } }
        let startOffset = before - live.count
        if let end {
            live.removeAll { document in
                let id = Array(document.key.utf8)
                return inclusiveEnd ? end.lexicographicallyPrecedes(id) : !id.lexicographicallyPrecedes(end)
            }
        }
        if let skip = request.query["skip"].flatMap(Int.init), skip > 0 { live = Array(live.dropFirst(skip)) }
        if let limit = request.query["limit"].flatMap(Int.init), limit >= 0 { live = Array(live.prefix(limit)) }
        let offset = startOffset + (request.query["skip"].flatMap(Int.init) ?? 0)
        return Response(
            status: 200,
            json: [
                "total_rows": .number(Double(database.docCount)),
                "offset": .number(Double(min(offset, database.docCount))),
                "rows": .array(live.map { row($0.key, $0.value) }),
            ]
        )
    }

    private func changes(_ db: String, request: Request) -> Response {
        let database = self.databases[db]!
        let includeDocs = request.query["include_docs"] == "true"
        let since: Int =
            switch request.query["since"] {
            case "now": database.updateSeq
            case .some(let text): Int(text.prefix { $0.isNumber }) ?? 0
            case .none: 0
            }
        var entries = database.documents.filter { $0.value.seq > since }.sorted { $0.value.seq < $1.value.seq }
        if let limit = request.query["limit"].flatMap(Int.init), limit >= 0 { entries = Array(entries.prefix(limit)) }
        let results: [JSONValue] = entries.map { id, document in
            var entry: [String: JSONValue] = [
                "seq": .string(Self.sequence(document.seq, db: db)),
                "id": .string(id),
                "changes": [["rev": .string(document.rev)]],
            ]
            if document.deleted { entry["deleted"] = true }
            if includeDocs {
                var doc: [String: JSONValue] = document.deleted ? ["_deleted": true] : document.body
                doc["_id"] = .string(id)
                doc["_rev"] = .string(document.rev)
                entry["doc"] = .object(doc)
            }
            return .object(entry)
        }
        let lastSeq = entries.last?.value.seq ?? (request.query["limit"] == nil ? database.updateSeq : since)
        return Response(
            status: 200,
            json: ["results": .array(results), "last_seq": .string(Self.sequence(lastSeq, db: db)), "pending": .number(Double(database.documents.values.count { $0.seq > lastSeq }))],
            etag: Self.md5Hex(Array("\(db)\(lastSeq)".utf8)).uppercased()
        )
    }

    // MARK: MVCC

    struct PendingWrite: Sendable {
        var id: String
        var rev: String?
        var body: [String: JSONValue]
        var deleted: Bool
    }

    /// Judges one write against the current revision: an update must name the current revision
    /// (or none, when the document is missing or deleted); a revision for a missing document is accepted and
    /// extended (as the recording shows: `1-000…` on a new id gives generation 2). Sequences are assigned by the caller.
    private mutating func write(_ write: PendingWrite, db: String) -> Result<String, Failure> {
        self.runConflictStorm(db: db, id: write.id)
        let existing = self.databases[db]!.documents[write.id]
        let parent: String?
        switch (existing, write.rev) {
        case (.none, .none):
            parent = nil
        case (.none, .some(let rev)):
            parent = rev
        case (.some(let current), .none):
            guard current.deleted else { return .failure(Failure(Self.conflict)) }
            parent = current.rev
        case (.some(let current), .some(let rev)):
            guard rev == current.rev else { return .failure(Failure(Self.conflict)) }
            parent = current.rev
        }
        let generation = (parent.flatMap(DocumentRevision.generation) ?? 0) + 1
        let body = write.deleted ? [:] : write.body
        let rev = "\(generation)-" + Self.revisionHash(parent: parent, deleted: write.deleted, body: body)
        self.databases[db]!.documents[write.id] = Document(rev: rev, body: body, deleted: write.deleted, seq: existing?.seq ?? 0)
        return .success(rev)
    }

    /// One update sequence per document written by a request, in id order (as CouchDB's updater does for a batch).
    private mutating func assignSequences(ids: some Collection<String>, db: String) {
        for id in ids.sorted(by: { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }) {
            self.databases[db]!.updateSeq += 1
            self.databases[db]!.documents[id]!.seq = self.databases[db]!.updateSeq
        }
    }

    /// A test's "409 storm": someone else writes the document just before this write is judged.
    private mutating func runConflictStorm(db: String, id: String) {
        let key = Self.key(db, id)
        guard let remaining = self.conflictStorms[key], remaining > 0 else { return }
        self.conflictStorms[key] = remaining > 1 ? remaining - 1 : nil
        let existing = self.databases[db]!.documents[id]
        var body = existing.flatMap { $0.deleted ? nil : $0.body } ?? [:]
        body["foreign_write"] = .number(Double((existing.flatMap { DocumentRevision.generation($0.rev) } ?? 0) + 1))
        let parent = existing?.rev
        let generation = (parent.flatMap(DocumentRevision.generation) ?? 0) + 1
        let rev = "\(generation)-" + Self.revisionHash(parent: parent, deleted: false, body: body)
        self.databases[db]!.documents[id] = Document(rev: rev, body: body, deleted: false, seq: 0)
        self.assignSequences(ids: [id], db: db)
    }

    // MARK: Validation and helpers

    static func key(_ db: String, _ id: String) -> String { db + "\u{0}" + id }

    private static func parseObject(_ bytes: [UInt8]) throws -> [String: JSONValue] {
        guard let value = try? JSONValue(parsing: bytes) else { throw Failure(Self.invalidJSON) }
        guard let object = value.objectValue else {
            throw Failure(Self.error(400, "bad_request", "Request body must be a JSON object"))
        }
        return object
    }

    private static let specialMembers: Set<String> = [
        "_id", "_rev", "_deleted", "_attachments", "_revisions", "_revs_info", "_conflicts", "_deleted_conflicts", "_local_seq",
    ]

    private static func validatedDocument(_ object: [String: JSONValue], id: String) throws -> PendingWrite {
        if id.isEmpty { throw Failure(Self.error(400, "illegal_docid", "Document id must not be empty")) }
        if id.hasPrefix("_") && !id.hasPrefix("_design/") && !id.hasPrefix("_local/") { throw Failure(Self.illegalDocID) }
        if let member = object.keys.sorted().first(where: { $0.hasPrefix("_") && !Self.specialMembers.contains($0) }) {
            throw Failure(Self.error(400, "doc_validation", "Bad special document member: \(member)"))
        }
        var rev: String? = nil
        switch object["_rev"] {
        case .none: break
        case .string(let string): rev = try validatedRev(string)
        default: throw Failure(Self.error(400, "bad_request", "Invalid rev format"))
        }
        let deleted = object["_deleted"] == .bool(true)
        return PendingWrite(id: id, rev: rev, body: object.filter { !$0.key.hasPrefix("_") }, deleted: deleted)
    }

    private static func validatedRev(_ rev: String) throws -> String {
        guard let dash = rev.firstIndex(of: "-"), Int(rev[..<dash]) != nil, rev.index(after: dash) < rev.endIndex else {
            throw Failure(Self.error(400, "bad_request", "Invalid rev format"))
        }
        return rev
    }

    private static func unquoted(_ text: String) -> String {
        text.count >= 2 && text.hasPrefix("\"") && text.hasSuffix("\"") ? String(text.dropFirst().dropLast()) : text
    }

    /// Deterministic: the same parent, flag and body give the same revision (as in CouchDB, though not the same bytes).
    static func revisionHash(parent: String?, deleted: Bool, body: [String: JSONValue]) -> String {
        var bytes = Array((deleted ? "1" : "0").utf8)
        bytes += Array((parent ?? "").utf8) + [0]
        bytes += JSONValue.object(body).serializedBytes
        return md5Hex(bytes)
    }

    static func md5Hex(_ bytes: [UInt8]) -> String {
        Hex.encode(Insecure.MD5.hash(data: bytes))
    }

    /// An opaque sequence like CouchDB's clustered `N-g1AAAA…`: the number first, then an opaque part.
    static func sequence(_ number: Int, db: String) -> String {
        let digest = Data(Insecure.MD5.hash(data: Array("\(db)/\(number)".utf8)))
        let opaque = digest.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return "\(number)-g1AAAAB" + opaque
    }

    private static func newID() -> String {
        UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased()
    }
}
