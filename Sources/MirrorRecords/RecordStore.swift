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
/// What `npm-mirror serve`'s search asks for its candidates: a record store (its own index, or a
/// walk), or a ``CouchDBSearchIndex`` kept beside a CouchDB store.
public protocol PackageMatching: Sendable {
    /// Live package records whose name or description holds `text` (ASCII case-insensitive), best
    /// first where the source has an index, at most `limit`.
    func packageRecords(matching text: String, limit: Int) async throws -> [StoredRecord]

    /// The change records of package `name`, newest first, at most `limit`; nil when this source has
    /// no index to find them by (it would have to read every change record).
    func changeRecords(ofPackage name: String, limit: Int) async throws -> [StoredRecord]?
}

extension PackageMatching {
    public func changeRecords(ofPackage name: String, limit: Int) async throws -> [StoredRecord]? { nil }
}

public protocol RecordStore: PackageMatching {
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

    /// One page of a walk through the store: up to `limit` documents whose id sorts after `after` and
    /// before `before` (either bound left out: open), in ascending id order — byte order of the UTF-8 id,
    /// which is also the order of CouchDB's `_all_docs`. A page holds fewer than `limit` documents only
    /// when it is the last of the range: the walk goes on from the last id of a full page. CouchDB's
    /// design documents are never listed.
    func records(after: String?, before: String?, limit: Int) async throws -> [StoredRecord]

    /// Package records (`type: package`, not deleted or unpublished) whose name or `description`
    /// contains `text` (ASCII case-insensitive), at most `limit`: the candidates of `npm-mirror serve`'s
    /// search. A store with an index answers best first (SQLite: exact name, name prefix, name, then
    /// description); the default walk answers in id order. An empty `text` matches every package.
    func packageRecords(matching text: String, limit: Int) async throws -> [StoredRecord]
}

/// The ids of the consumer's records: a package's record is its name; a change's is `change:<seq>`.
///
/// No npm package name holds a `:` (names must be URL-safe), so the change records sort together,
/// after `change:` and before ``afterChanges``, and a walk through the package records steps over
/// them without reading them (``RecordStore/packageRecords(after:limit:)``).
public enum RecordID {
    /// The id of the record of the change with this seq.
    public static func change(_ seq: Int64) -> String { "change:\(seq)" }
    /// The id of the record of a change `npm-mirror reconcile` sent: the package and the revision the
    /// registry listed (reconciling the same revision again finds the record there).
    public static func reconciled(id: String, rev: String) -> String { "change:reconcile:\(id)@\(rev)" }
    /// The id of the record of a change sent for a pin: the package and when it was sent.
    public static func pinned(id: String, at: String) -> String { "change:pin:\(id)@\(at)" }
    /// Every change record's id sorts after this (and it is no record's id)…
    static let beforeChanges = "change:"
    /// …and before this: `change:` and a character above every ASCII one that follows it in an id
    /// (digits, `reconcile:`, `pin:` and the URL-safe characters of a name).
    static let afterChanges = "change:\u{7F}"
}

extension RecordStore {
    /// The first `limit` documents in id order: a look at a small store (tests, the demo's summary).
    /// A walk through a store of any size pages with ``records(after:before:limit:)``.
    public func readAll(limit: Int) async throws -> [StoredRecord] {
        try await records(after: nil, before: nil, limit: limit)
    }

    /// Up to `limit` package records (deleted and unpublished ones included) whose id sorts after
    /// `after`, in id order; a page shorter than `limit` is the last. The change records are stepped
    /// over, not read: the walk reads the range below them, then the range above.
    public func packageRecords(after: String?, limit: Int) async throws -> [StoredRecord] {
        var found: [StoredRecord] = []
        var cursor = after
        /// Reads the range up to `before` from the cursor until `limit` packages are found; whether
        /// the range ran out first.
        func walk(before: String?) async throws -> Bool {
            while found.count < limit {
                let wanted = limit - found.count
                let page = try await records(after: cursor, before: before, limit: wanted)
                found += page.filter(\.isPackage)
                guard let last = page.last, page.count == wanted else { return true }
                cursor = last.id
            }
            return false
        }
        func precedes(_ id: String?, _ bound: String) -> Bool {
            id.map { Array($0.utf8).lexicographicallyPrecedes(Array(bound.utf8)) } ?? true
        }
        if precedes(cursor, RecordID.beforeChanges) {
            guard try await walk(before: RecordID.beforeChanges) else { return found }
        }
        if precedes(cursor, RecordID.afterChanges) { cursor = RecordID.afterChanges }
        _ = try await walk(before: nil)
        return found
    }

    /// Every package record, page by page (`pageSize` each): memory holds one page, whatever the size
    /// of the store.
    public func packageRecordPages(pageSize: Int = 1000) -> RecordPages {
        RecordPages(pageSize: pageSize) { after, limit in try await self.packageRecords(after: after, limit: limit) }
    }

    /// The default: a walk through the package records, page by page, until `limit` match — right at
    /// any size, and as slow as the store is large for a rare `text`: a store with a query of its own
    /// (SQLite's) answers from it.
    public func packageRecords(matching text: String, limit: Int) async throws -> [StoredRecord] {
        var found: [StoredRecord] = []
        for try await page in packageRecordPages(pageSize: 1000) {
            found += page.lazy.filter { $0.isLivePackage && $0.matches(text) }.prefix(limit - found.count)
            if found.count >= limit { break }
        }
        return found
    }

    /// Every change record (`change:…`), page by page (`pageSize` each), in id order; the package
    /// records around them are not read.
    public func changeRecordPages(pageSize: Int = 1000) -> RecordPages {
        RecordPages(pageSize: pageSize) { after, limit in
            try await self.records(after: after ?? RecordID.beforeChanges, before: RecordID.afterChanges, limit: limit)
        }
    }

    /// Every document, page by page (`pageSize` each).
    public func recordPages(pageSize: Int = 1000) -> RecordPages {
        RecordPages(pageSize: pageSize) { after, limit in try await self.records(after: after, before: nil, limit: limit) }
    }
}

/// Pages of records in id order, read one at a time as the loop asks: see
/// ``RecordStore/packageRecordPages(pageSize:)``. Ends after the first page shorter than the page size.
public struct RecordPages: AsyncSequence, Sendable {
    public typealias Element = [StoredRecord]
    let pageSize: Int
    let read: @Sendable (_ after: String?, _ limit: Int) async throws -> [StoredRecord]

    public struct AsyncIterator: AsyncIteratorProtocol {
        let pageSize: Int
        let read: @Sendable (_ after: String?, _ limit: Int) async throws -> [StoredRecord]
        var after: String?
        var finished = false

        public mutating func next() async throws -> [StoredRecord]? {
            guard !finished else { return nil }
            let page = try await read(after, pageSize)
            if page.count < pageSize { finished = true }
            guard let last = page.last else { return nil }
            after = last.id
            return page
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        AsyncIterator(pageSize: Swift.max(1, pageSize), read: read)
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

    /// A package record (`type: package`), live or not.
    public var isPackage: Bool { body["type"]?.stringValue == "package" }

    /// A package record whose package is neither deleted nor unpublished.
    public var isLivePackage: Bool {
        isPackage && body["deleted"]?.boolValue != true && body["unpublished"]?.boolValue != true
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
