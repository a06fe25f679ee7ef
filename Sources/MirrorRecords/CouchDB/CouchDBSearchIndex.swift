import Foundation
import Logging
import Synchronization

/// Search over a CouchDB mirror's package records, answered from a local index instead of a walk.
///
/// CouchDB has no full-text search without an extra service, and a walk through 4 million records
/// per search is no answer. So `npm-mirror serve` keeps a local SQLite copy of what search needs —
/// each package record's name, description and whether it is live — indexed exactly as the embedded
/// store is (``SQLiteRecordStore/packageRecords(matching:limit:)``: trigram index, exact name, name
/// prefix, name, description), so both back ends rank alike. The copy follows the database's
/// `_changes` feed: the first pass (from the start, where every document appears once) builds it, and
/// later passes apply what changed. Where it has read to is saved beside it after each page, so a
/// restart goes on from there; a page applied twice is harmless (every write replaces).
///
/// Until the first pass has reached the end of the feed, search throws ``SearchIndexNotReady``
/// rather than answer from part of the records; once built, the copy is at most one pass behind.
public final class CouchDBSearchIndex: PackageMatching {
    /// How far the copy has read.
    public struct Progress: Sendable, Equatable, Codable {
        /// The CouchDB database the copy was built from (`url` without credentials, and the database):
        /// a copy of another database is rebuilt.
        public var source: String
        /// The `_changes` seq read to; nil before the first page.
        public var since: String?
        /// Whether a pass has once reached the end of the feed: until then search is refused.
        public var built = false
        /// Changes read (all documents, change records included) and package records copied.
        public var changesRead = 0
        public var packagesCopied = 0
        /// Changes the database still had after the last page, when it said.
        public var pending: Int?
    }

    public let path: String
    let source: CouchDBRecordStore
    private let copyStore: Mutex<SQLiteRecordStore>
    var copy: SQLiteRecordStore { copyStore.withLock { $0 } }
    /// Whether this process has compared the saved progress with the database yet.
    private let sourceChecked = Mutex(false)
    let pageSize: Int
    private let progressFile: String
    private let state: Mutex<Progress>
    private let logger: Logger

    /// Opens (or creates) the copy at `path` (a SQLite file; its progress is `path` + `.json`).
    ///
    /// - Throws: ``RecordStoreError`` when the file cannot be opened or its folder made.
    public init(path: String, source: CouchDBRecordStore, pageSize: Int = 1000, logger: Logger) throws {
        self.path = path
        self.source = source
        self.pageSize = max(1, pageSize)
        self.progressFile = path + ".json"
        self.logger = logger
        let directory = (path as NSString).deletingLastPathComponent
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw RecordStoreError(code: .unavailable, reason: "cannot make the search index's folder \(directory): \(error)", operation: "open")
        }
        var url = URLComponents(url: source.configuration.url, resolvingAgainstBaseURL: false)
        url?.user = nil
        url?.password = nil
        let sourceName = "\(url?.string ?? "CouchDB") database \(source.configuration.database)"
        var progress = Progress(source: sourceName)
        if let data = FileManager.default.contents(atPath: progressFile), let saved = try? JSONDecoder().decode(Progress.self, from: data), saved.source == sourceName {
            progress = saved
        } else {
            // No progress, unreadable progress, or another database's copy: start a new copy.
            try? FileManager.default.removeItem(atPath: path)
            try? FileManager.default.removeItem(atPath: progressFile)
        }
        self.state = Mutex(progress)
        self.copyStore = Mutex(try SQLiteRecordStore(path: path))
    }

    /// Drops the copy and its progress: the next page reads from the start.
    private func startOver() throws {
        try? FileManager.default.removeItem(atPath: progressFile)
        try? FileManager.default.removeItem(atPath: path)
        let fresh = try SQLiteRecordStore(path: path)
        copyStore.withLock { $0 = fresh }
        state.withLock { $0 = Progress(source: $0.source) }
    }

    /// A database deleted and made again under the same name (`scripts/reset.sh --couchdb`) starts its
    /// seqs over: a saved seq ahead of the database's own means the copy is of the old one.
    private func checkSourceOnce() async throws {
        guard !sourceChecked.withLock({ $0 }), let since = progress.since else { return }
        let info = try await source.client.databaseInfo()
        let current = info["update_seq"].flatMap { $0.stringValue ?? $0.intValue.map(String.init) }
        if let saved = Self.seqNumber(since), let now = current.flatMap(Self.seqNumber), now < saved {
            logger.notice(
                "the search index was read to a seq ahead of the database's: the database was made again; rebuilding the index",
                metadata: ["search.since": "\(saved)", "search.update_seq": "\(now)"]
            )
            try startOver()
        }
        sourceChecked.withLock { $0 = true }
    }

    /// The number before the first `-` of a CouchDB seq (`"123-g1AAAA…"`), or the whole of a 1.x one.
    static func seqNumber(_ seq: String) -> Int? {
        Int(seq.prefix { $0 != "-" })
    }

    public var progress: Progress { state.withLock { $0 } }

    /// Reads the feed from where the copy stopped to its end, page by page, applying each page and
    /// saving the progress after it. Returns the number of changes read.
    ///
    /// - Throws: ``RecordStoreError`` when CouchDB or the copy fails (the pages before stay applied).
    @discardableResult
    public func catchUp() async throws -> Int {
        try await checkSourceOnce()
        try await copy.prepare()
        var read = 0
        while true {
            try Task.checkCancellation()
            let since = progress.since
            let page = try await source.client.changes(since: since, limit: pageSize)
            var documents: [RecordDocument] = []
            for change in page.changes where !change.id.hasPrefix("_design/") {
                if let document = Self.searchDocument(change) { documents.append(document) }
            }
            if !documents.isEmpty {
                for result in try await copy.write(documents) {
                    if case .failed(let error) = result { throw error }
                }
            }
            read += page.changes.count
            let ended = page.rowCount < pageSize || page.pending == 0
            let next = state.withLock { progress in
                progress.since = page.lastSeq
                progress.changesRead += page.changes.count
                progress.packagesCopied += documents.count
                progress.pending = page.pending
                if ended && !progress.built {
                    progress.built = true
                }
                return progress
            }
            try save(next)
            if ended { return read }
        }
    }

    /// Live package records whose name or description holds `text`, best first (see the type's
    /// documentation), at most `limit`. The records hold only what search needs: `type`,
    /// `description` and, for a package gone from the registry, `deleted`.
    ///
    /// - Throws: ``SearchIndexNotReady`` until the copy has been built once.
    public func packageRecords(matching text: String, limit: Int) async throws -> [StoredRecord] {
        let progress = self.progress
        guard progress.built else { throw SearchIndexNotReady(progress: progress) }
        return try await copy.packageRecords(matching: text, limit: limit)
    }

    /// What the copy keeps of a change: a package record's name, description and liveness. A change
    /// record, or a document deleted from CouchDB (a reset), leaves a dead entry, never a live one.
    static func searchDocument(_ change: CouchDBClient.ChangesPage.Change) -> RecordDocument? {
        guard let document = change.document, !change.deleted, document["type"]?.stringValue == "package" else {
            // Only documents that may have been packages need an entry: a change record never was.
            guard change.deleted || change.document?["type"]?.stringValue == "package" else { return nil }
            return RecordDocument(id: change.id, body: ["type": "package", "deleted": true])
        }
        var body: [String: JSONValue] = ["type": "package"]
        if let description = document["description"]?.stringValue { body["description"] = .string(description) }
        if document["deleted"]?.boolValue == true || document["unpublished"]?.boolValue == true { body["deleted"] = true }
        return RecordDocument(id: change.id, body: body)
    }

    private func save(_ progress: Progress) throws {
        do {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            try encoder.encode(progress).write(to: URL(fileURLWithPath: progressFile), options: .atomic)
        } catch {
            throw RecordStoreError(code: .unavailable, reason: "cannot save the search index's progress to \(progressFile): \(error)", operation: "write")
        }
    }
}

/// Search was asked of a ``CouchDBSearchIndex`` still being built: answering from part of the
/// records would silently miss packages.
public struct SearchIndexNotReady: Error, CustomStringConvertible {
    public let progress: CouchDBSearchIndex.Progress

    public var description: String {
        let behind = progress.pending.map { ", about \($0) to go" } ?? ""
        return "the search index is being built from CouchDB's changes: \(progress.changesRead) documents read\(behind); search answers once it is complete"
    }
}
