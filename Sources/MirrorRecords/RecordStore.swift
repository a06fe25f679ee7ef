/// Records are `JSONValue`s: importing this module imports `MirrorJSON`.
@_exported import MirrorJSON

/// Where the consumer writes its records: one document per package and one per change.
///
/// The interface speaks of documents, not of a database protocol: `CouchDBRecordStore` implements it
/// over CouchDB's HTTP API, and other back ends can implement it behind the same calls.
///
/// Errors: a call throws ``RecordStoreError`` when the store as a whole cannot answer (unreachable,
/// unauthorized, server error after the store's bounded retries). Check ``RecordStoreError/isRetriable``
/// to decide whether to pause and try again. `write` reports the outcome of each document separately:
/// one document failing never fails or hides the others.
public protocol RecordStore: Sendable {
    /// Makes the store ready to be written: creates the database when it does not exist yet.
    /// Calling it again is harmless.
    func prepare() async throws

    /// Upserts a batch. Returns one result per document, in the order given.
    ///
    /// Writing the same batch again is safe: `.replace` documents end up with the same body,
    /// `.createOnly` documents report `.alreadyExists` and `.forwardOnly` ones the same body (or
    /// `.keptNewer`). If `write` throws, some documents of the batch
    /// may have been written and others not: write the whole batch again.
    func write(_ documents: [RecordDocument]) async throws -> [RecordWriteResult]

    /// The body of the document `id` as it was written (the store's own metadata removed),
    /// or `nil` when there is no such document.
    func read(id: String) async throws -> JSONValue?

    /// The number of documents in the store.
    func count() async throws -> Int

    /// Up to `limit` documents in ascending id order; for tests and status pages, not for bulk export.
    func readAll(limit: Int) async throws -> [StoredRecord]

    /// Package records (`type: package`, not deleted or unpublished) whose name or `description`
    /// contains `text` (ASCII case-insensitive), in ascending id order, at most `limit`: the search
    /// of `npm-mirror serve`. An empty `text` matches every package.
    func packageRecords(matching text: String, limit: Int) async throws -> [StoredRecord]
}

extension RecordStore {
    /// The default: a filter over ``readAll(limit:)`` of at most 100,000 documents, for stores
    /// without a query of their own (CouchDB here: a Mango `_find` with `$regex` would scan too).
    public func packageRecords(matching text: String, limit: Int) async throws -> [StoredRecord] {
        Array(try await readAll(limit: 100_000).lazy.filter { $0.isLivePackage && $0.matches(text) }.prefix(limit))
    }
}

extension StoredRecord {
    /// The record's name (its id) or `description` contains `text`, ASCII case-insensitive (as
    /// SQLite's `LIKE`); an empty `text` matches.
    public func matches(_ text: String) -> Bool {
        guard !text.isEmpty else { return true }
        let wanted = text.lowercased()
        return id.lowercased().contains(wanted) || (body["description"]?.stringValue?.lowercased().contains(wanted) ?? false)
    }

    /// A package record whose package is neither deleted nor unpublished.
    public var isLivePackage: Bool {
        body["type"]?.stringValue == "package" && body["deleted"]?.boolValue != true && body["unpublished"]?.boolValue != true
    }
}

/// One document to write.
public struct RecordDocument: Sendable, Hashable {
    /// The document id, e.g. a package name (`@types/node`) or a change key. Must not be empty
    /// and must not start with `_` (reserved by CouchDB); such a document fails alone with
    /// ``RecordStoreError/Code/illegalDocID``.
    public var id: String
    /// The document body: a JSON object. Member names starting with `_` are reserved
    /// (`_id` and `_rev` are managed by the store and dropped; any other fails the document with `bad_request`).
    public var body: [String: JSONValue]
    /// What to do when a document with this id exists already.
    public var policy: UpdatePolicy

    public init(id: String, body: [String: JSONValue], policy: UpdatePolicy = .replace) {
        self.id = id
        self.body = body
        self.policy = policy
    }
}

/// What `write` does when the document exists already.
public struct UpdatePolicy: Sendable, Hashable, CustomStringConvertible {
    private enum Base: Hashable {
        case replace
        case createOnly
        case forwardOnly(revisionField: String)
    }

    private let base: Base

    /// The document becomes the given body, whatever was there before (an update on top of the current revision;
    /// conflicting concurrent updates are resolved by re-reading the revision and trying again, a bounded number of times).
    public static let replace = UpdatePolicy(base: .replace)

    /// The document is written only when it does not exist; if it does, the result is `.alreadyExists` and
    /// the stored body is left as it is. For records whose id is derived from a sequence number, so that
    /// replaying never makes a duplicate.
    public static let createOnly = UpdatePolicy(base: .createOnly)

    /// Like `.replace`, unless the stored document's `field` holds a revision (`<generation>-<hash>`,
    /// ``DocumentRevision``) of a higher generation than the new body's: then nothing is written
    /// and the result is `.keptNewer`. The comparison and the write are one step (SQLite: one
    /// statement; CouchDB: the revision the comparison read is the one the update names). For
    /// records that mirror a versioned document, so that a late writer never moves them back.
    public static func forwardOnly(revisionField field: String) -> UpdatePolicy { UpdatePolicy(base: .forwardOnly(revisionField: field)) }

    /// The field a `.forwardOnly` policy compares, nil for the others.
    public var revisionField: String? {
        if case .forwardOnly(let field) = base { return field }
        return nil
    }

    /// Whether an existing document is updated (`.replace` and `.forwardOnly`).
    public var updatesExisting: Bool { base != .createOnly }

    public var description: String {
        switch self.base {
        case .replace: "replace"
        case .createOnly: "createOnly"
        case .forwardOnly(let field): "forwardOnly(\(field))"
        }
    }

    /// Whether a `.forwardOnly` document may replace a stored body: the stored field's generation
    /// is not higher than the new one's. When either side has no readable revision there is
    /// nothing to compare, and the new body is written (as `.replace` would).
    public static func mayReplace(stored: JSONValue?, with new: JSONValue?) -> Bool {
        guard let held = generation(of: stored), let offered = generation(of: new) else { return true }
        return held <= offered
    }

    static func generation(of value: JSONValue?) -> Int? {
        value?.stringValue.flatMap(DocumentRevision.generation)
    }
}

/// The outcome of writing one document.
public enum RecordWriteResult: Sendable, Hashable {
    /// Written; `rev` is the store's new revision of the document (CouchDB: `N-<hash>`).
    case written(rev: String)
    /// A `.createOnly` document that existed already; nothing was written.
    case alreadyExists
    /// A `.forwardOnly` document whose stored revision field is newer (`current`): nothing was written.
    case keptNewer(current: String)
    /// This document was not written. The others in the batch are unaffected.
    case failed(RecordStoreError)

    /// True for `.written` and `.alreadyExists`: the document is in the store.
    public var isSuccess: Bool {
        switch self {
        case .written, .alreadyExists, .keptNewer: true
        case .failed: false
        }
    }
}

/// A document read back from the store.
public struct StoredRecord: Sendable, Hashable {
    public var id: String
    /// The store's revision of the document, when the store has revisions.
    public var revision: String?
    /// The body as written (store metadata removed).
    public var body: [String: JSONValue]

    public init(id: String, revision: String?, body: [String: JSONValue]) {
        self.id = id
        self.revision = revision
        self.body = body
    }
}

extension RecordDocument {
    /// Why no record store accepts this document, or nil: an empty id or one starting with `_`
    /// (reserved by CouchDB), or a body member starting with `_` other than `_id`/`_rev`. Every
    /// store applies the same rule, so the embedded database and CouchDB accept the same documents.
    public var problem: RecordStoreError? {
        if id.isEmpty { return .illegalDocID("empty document id") }
        if id.hasPrefix("_") { return .illegalDocID("document id '\(id)' starts with '_', which CouchDB reserves") }
        if let member = body.keys.sorted().first(where: { $0.hasPrefix("_") && $0 != "_id" && $0 != "_rev" }) {
            return .badRequest("body member '\(member)' of document '\(id)' starts with '_', which CouchDB reserves")
        }
        return nil
    }
}
