import AsyncHTTPClient
import Foundation
import Logging
import MirrorJSON
import Synchronization

/// `RecordStore` over CouchDB 3.x.
///
/// A batch is written with one `POST /db/_bulk_docs`; CouchDB answers per document, in order. The
/// store remembers the revision of each document it wrote (``RevisionCache``) and sends it with the
/// next update, so a package updated again costs no lookup; a document it knows nothing of is sent
/// without `_rev` (which creates it, or recreates it when deleted). When CouchDB answers `conflict` —
/// the document exists and the store did not know it, or someone else updated it since — the store
/// reads the current revisions with one `POST /db/_all_docs` (`keys`) and writes those documents
/// again: `.replace` documents up to `maxConflictRetries` times (the first lookup of a document the
/// store had no revision for is not counted); `.createOnly` documents that exist are `.alreadyExists`.
///
/// Documents CouchDB would reject for the whole batch are failed alone, before sending: an empty id or one
/// starting with `_` (`illegal_doc_id`: CouchDB answers 400 `illegal_docid` to the *whole* `_bulk_docs`), and a body
/// member starting with `_` other than `_id`/`_rev` (`bad_request`). Ids are not rewritten: a record keeps its name.
public struct CouchDBRecordStore: RecordStore {
    public let client: CouchDBClient
    private let logger: Logger
    /// Revisions this store wrote last, shared by its copies.
    let revisionCache = RevisionCache()

    public var configuration: CouchDBConfiguration { self.client.configuration }

    public init(configuration: CouchDBConfiguration, httpClient: HTTPClient = .shared, logger: Logger = Logger(label: "npm-mirror.records")) {
        self.client = CouchDBClient(configuration: configuration, httpClient: httpClient, logger: logger)
        var logger = logger
        logger[metadataKey: LogKey.database] = .string(configuration.database)
        self.logger = logger
    }

    /// - Throws: `RecordStoreError.invalidConfiguration` for an unusable URL or database name.
    public init(
        url: URL,
        database: String,
        user: String? = nil,
        password: String? = nil,
        httpClient: HTTPClient = .shared,
        logger: Logger = Logger(label: "npm-mirror.records")
    ) throws {
        let configuration = try CouchDBConfiguration(url: url, database: database, user: user, password: password)
        self.init(configuration: configuration, httpClient: httpClient, logger: logger)
    }

    public func prepare() async throws {
        let created = try await self.client.createDatabase()
        if created { self.logger.info("created CouchDB database") }
    }

    public func write(_ documents: [RecordDocument]) async throws -> [RecordWriteResult] {
        var results = [RecordWriteResult?](repeating: nil, count: documents.count)
        var valid: [Int] = []
        for (index, document) in documents.enumerated() {
            if let problem = Self.validate(document) {
                results[index] = .failed(problem)
            } else {
                valid.append(index)
            }
        }
        // A batch may name one id more than once: write them in rounds of distinct ids, in order,
        // so the later document is applied on top of the earlier one.
        for round in Self.roundsOfDistinctIDs(valid, documents: documents) {
            try await self.writeRound(round, documents: documents, results: &results)
        }
        return results.map { $0 ?? .failed(.invalidResponse("no result", operation: nil)) }
    }

    private func writeRound(_ indices: [Int], documents: [RecordDocument], results: inout [RecordWriteResult?]) async throws {
        var pending = indices
        let cached = self.revisionCache.entries(ids: pending.map { documents[$0].id })
        var revisions = cached.mapValues { CouchDBClient.Revision.live($0.rev) }
        // For `.forwardOnly` documents: the stored revision field, as the revision above has it
        // (`.null` when it has none). A document whose field is not known is sent as if unknown.
        var storedFields = cached.compactMapValues(\.field)
        for index in pending where documents[index].policy.revisionField != nil && storedFields[documents[index].id] == nil {
            revisions[documents[index].id] = nil
        }
        // Documents sent without a revision the store knew: their first conflict is the lookup, not a retry.
        var guessed = Set(pending.filter { revisions[documents[$0].id] == nil })
        var conflictRounds = 0
        while !pending.isEmpty {
            var sent: [Int] = []
            var bodies: [JSONValue] = []
            for index in pending {
                let document = documents[index]
                var body = document.body
                body["_id"] = .string(document.id)
                body["_rev"] = nil
                switch revisions[document.id] {
                case .live where !document.policy.updatesExisting:
                    results[index] = .alreadyExists
                    continue
                case .live(let rev):
                    if let field = document.policy.revisionField, let stored = storedFields[document.id],
                        !UpdatePolicy.mayReplace(stored: stored, with: document.body[field])
                    {
                        // Compared with the body of exactly the revision the update would name: if
                        // that is no longer current, the update would conflict and be compared again.
                        results[index] = .keptNewer(current: stored.stringValue ?? "")
                        continue
                    }
                    body["_rev"] = .string(rev)
                default:
                    break  // missing or deleted: created without _rev (CouchDB extends a deleted branch)
                }
                sent.append(index)
                bodies.append(.object(body))
            }
            guard !sent.isEmpty else { return }

            let answers = try await self.client.bulkDocs(bodies)
            var conflicted: [Int] = []
            for (index, answer) in zip(sent, answers) {
                let document = documents[index]
                if let error = answer.error {
                    if error == "conflict" {
                        if document.policy == .createOnly {
                            results[index] = .alreadyExists  // created by someone else since we looked
                        } else {
                            conflicted.append(index)
                        }
                    } else {
                        results[index] = .failed(
                            RecordStoreError(
                                code: CouchDBClient.code(bulkError: error),
                                serverError: error,
                                reason: answer.reason ?? error,
                                operation: "POST /\(self.configuration.database)/_bulk_docs"
                            )
                        )
                    }
                } else if let rev = answer.rev {
                    results[index] = .written(rev: rev)
                    self.revisionCache.remember(document.id, rev: rev, field: document.policy.revisionField.map { document.body[$0] ?? .null })
                } else {
                    results[index] = .failed(.invalidResponse("_bulk_docs result without rev or error", operation: nil))
                }
            }
            guard !conflicted.isEmpty else { return }
            if !conflicted.allSatisfy(guessed.contains) { conflictRounds += 1 }
            guessed = []
            if conflictRounds > self.configuration.maxConflictRetries {
                for index in conflicted {
                    results[index] = .failed(
                        .conflict("still conflicting after \(self.configuration.maxConflictRetries) re-reads of the revision")
                    )
                }
                self.logger.warning(
                    "documents kept conflicting",
                    metadata: [LogKey.batchSize: .stringConvertible(conflicted.count)]
                )
                return
            }
            self.logger.debug("re-reading revisions after conflicts", metadata: [LogKey.batchSize: .stringConvertible(conflicted.count)])
            pending = conflicted
            let current = try await self.client.currentDocuments(
                ids: pending.map { documents[$0].id },
                includingBodies: pending.contains { documents[$0].policy.revisionField != nil }
            )
            revisions = current.mapValues(\.revision)
            storedFields = [:]
            for index in pending {
                guard let field = documents[index].policy.revisionField, let body = current[documents[index].id]?.body else { continue }
                storedFields[documents[index].id] = body[field] ?? .null
            }
        }
    }

    public func read(id: String) async throws -> JSONValue? {
        guard RecordDocument(id: id, body: [:]).problem == nil else { return nil }
        guard let document = try await self.client.document(id: id)?.objectValue else { return nil }
        return .object(Self.strippingMetadata(document))
    }

    public func count() async throws -> Int {
        let info = try await self.client.databaseInfo()
        guard let count = info["doc_count"]?.intValue else {
            throw RecordStoreError.invalidResponse("database info without doc_count", operation: "GET /\(self.configuration.database)")
        }
        return count
    }

    /// `GET /db/_all_docs?include_docs=true` from `startkey` (inclusive, so the repeated first row is
    /// dropped) to `endkey` (exclusive), until `limit` documents are read or the range ends; design
    /// documents are stepped over.
    public func records(after: String?, before: String?, limit: Int) async throws -> [StoredRecord] {
        var found: [StoredRecord] = []
        var cursor = after
        while found.count < limit {
            // One more than wanted: `startkey` is inclusive, and its own row is dropped.
            let asked = limit - found.count + (cursor == nil ? 0 : 1)
            let rows = try await self.client.allDocuments(startKey: cursor, endKey: before, limit: asked)
            for row in rows {
                guard let id = row["id"]?.stringValue, id != cursor else { continue }
                guard !id.hasPrefix("_design/"), let document = row["doc"]?.objectValue else { continue }
                found.append(StoredRecord(id: id, revision: document["_rev"]?.stringValue, body: Self.strippingMetadata(document)))
                if found.count == limit { break }
            }
            guard rows.count == asked, let last = rows.last?["id"]?.stringValue else { break }
            cursor = last
        }
        return found
    }

    // MARK: Helpers

    static func validate(_ document: RecordDocument) -> RecordStoreError? {
        document.problem
    }

    static func strippingMetadata(_ document: [String: JSONValue]) -> [String: JSONValue] {
        document.filter { !$0.key.hasPrefix("_") }
    }

    static func roundsOfDistinctIDs(_ indices: [Int], documents: [RecordDocument]) -> [[Int]] {
        var rounds: [[Int]] = []
        var seen: [String: Int] = [:]  // id → how many times seen
        for index in indices {
            let occurrence = seen[documents[index].id, default: 0]
            seen[documents[index].id] = occurrence + 1
            if occurrence == rounds.count { rounds.append([]) }
            rounds[occurrence].append(index)
        }
        return rounds
    }
}

/// The revision this process last wrote for each document id, so an update needs no lookup first,
/// and for `.forwardOnly` documents the revision field that revision holds.
/// Bounded: past `capacity` ids it starts again from empty (a document it forgot costs one lookup).
/// A stale entry (someone else wrote since) costs the same: a conflict, then the lookup.
final class RevisionCache: Sendable {
    struct Entry: Sendable {
        var rev: String
        /// The `.forwardOnly` field's value in that revision (`.null` when absent); nil otherwise.
        var field: JSONValue?
    }

    private let known = Mutex<[String: Entry]>([:])
    let capacity: Int

    init(capacity: Int = 100_000) {
        self.capacity = capacity
    }

    func entries(ids: [String]) -> [String: Entry] {
        known.withLock { known in
            var found: [String: Entry] = [:]
            for id in ids { if let entry = known[id] { found[id] = entry } }
            return found
        }
    }

    func remember(_ id: String, rev: String, field: JSONValue? = nil) {
        known.withLock { known in
            if known.count >= capacity, known[id] == nil { known.removeAll(keepingCapacity: true) }
            known[id] = Entry(rev: rev, field: field)
        }
    }
}
