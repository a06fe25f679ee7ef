import CSQLite
import Dispatch
import Foundation
import MirrorJSON
import Synchronization

/// The embedded record store: the same documents as CouchDB, in one SQLite file (used by
/// `npm-mirror run` when no `COUCHDB_URL` is set).
///
/// Table `records(id TEXT PRIMARY KEY, generation INTEGER, body TEXT)`; a document's revision is
/// `<generation>-sqlite`. Writes of a batch happen in one transaction with `synchronous=FULL`, so a
/// write that returned is on disk. It accepts exactly the documents CouchDB accepts
/// (``RecordDocument/problem``).
public final class SQLiteRecordStore: RecordStore {
    private let connection: SQLiteConnection
    public let path: String
    /// The search index was seen in this database (``hasSearchIndex(_:)``).
    private let searchIndexSeen = Mutex(false)
    private let changeIndexSeen = Mutex(false)

    /// Opens (creating if needed) the database file at `path`.
    public init(path: String) throws {
        self.path = path
        let directory = (path as NSString).deletingLastPathComponent
        if !directory.isEmpty {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            } catch {
                throw RecordStoreError(code: .unavailable, reason: "cannot create the record database's folder \(directory): \(error.localizedDescription)", operation: "open")
            }
        }
        connection = try SQLiteConnection(path: path)
    }

    public func prepare() async throws {
        try await connection.run { db in
            try db.execute("PRAGMA journal_mode=WAL")
            try db.execute("PRAGMA synchronous=FULL")
            try db.execute("CREATE TABLE IF NOT EXISTS records (id TEXT PRIMARY KEY NOT NULL, generation INTEGER NOT NULL, body TEXT NOT NULL)")
            try Self.prepareSearchIndex(db)
            // A package's change records, for its web page: by the package's name, newest first. A
            // database made before it is indexed once, here.
            try db.execute("""
                CREATE INDEX IF NOT EXISTS change_records_by_package ON records (json_extract(body, '$.id'), id)
                WHERE id > 'change:' AND id < 'change:\u{7F}'
                """)
        }
    }

    /// The package's change records, newest first (the feed's seqs, then reconciled ones), from the
    /// `change_records_by_package` index; nil when the database has none (made by an older version
    /// and not prepared since).
    public func changeRecords(ofPackage name: String, limit: Int) async throws -> [StoredRecord]? {
        try await connection.run { db in
            // Asked of SQLite until it says yes (an index is never dropped), not on every page view.
            if !self.changeIndexSeen.withLock({ $0 }) {
                let indexed = try db.query("SELECT 1 FROM sqlite_master WHERE name = 'change_records_by_package'", []) { _ in true }.first ?? false
                guard indexed else { return nil }
                self.changeIndexSeen.withLock { $0 = true }
            }
            let rows = try db.query(
                """
                SELECT id, generation, body FROM records INDEXED BY change_records_by_package
                WHERE json_extract(body, '$.id') = ?1 AND id > 'change:' AND id < 'change:\u{7F}'
                """,
                [.text(name)]
            ) { row in
                StoredRecord(id: row.text(0), revision: "\(row.integer(1))-sqlite", body: try JSONValue(parsing: row.text(2)).objectValue ?? [:])
            }
            // Newest first by seq (ids sort as text, not as numbers); reconciled changes after them.
            let sorted = rows.sorted { ($0.body["seq"]?.intValue ?? -1) > ($1.body["seq"]?.intValue ?? -1) }
            return Array(sorted.prefix(limit))
        }
    }

    /// The search index: an FTS5 table with the trigram tokenizer over the live package records' names
    /// and descriptions (its rowid the record's), kept by triggers in the write's own transaction, so
    /// a search is a lookup of the text's trigrams, not a scan of every record. A database made before
    /// the index is indexed once, here.
    /// Whether the database has the search index, asked of SQLite until it says yes (an index is
    /// never dropped), not on every search.
    private func hasSearchIndex(_ db: SQLiteDatabase) throws -> Bool {
        if searchIndexSeen.withLock({ $0 }) { return true }
        let exists = try db.query("SELECT 1 FROM sqlite_master WHERE name = 'package_search'", []) { _ in true }.first ?? false
        if exists { searchIndexSeen.withLock { $0 = true } }
        return exists
    }

    static func prepareSearchIndex(_ db: SQLiteDatabase) throws {
        let exists = try db.query("SELECT 1 FROM sqlite_master WHERE name = 'package_search'", []) { _ in true }.first ?? false
        guard !exists else { return }
        try db.execute("BEGIN IMMEDIATE")
        do {
            try db.execute("CREATE VIRTUAL TABLE package_search USING fts5(id, description, tokenize = 'trigram')")
            let live = """
                json_extract(NEW.body, '$.type') = 'package' AND json_extract(NEW.body, '$.deleted') IS NOT 1
                  AND json_extract(NEW.body, '$.unpublished') IS NOT 1
                """
            let add = "INSERT INTO package_search (rowid, id, description) SELECT NEW.rowid, NEW.id, coalesce(json_extract(NEW.body, '$.description'), '') WHERE \(live)"
            // One trigger per event, its statements in order (the order of several triggers is not defined).
            try db.execute("CREATE TRIGGER package_search_insert AFTER INSERT ON records BEGIN \(add); END")
            try db.execute("CREATE TRIGGER package_search_update AFTER UPDATE ON records BEGIN DELETE FROM package_search WHERE rowid = OLD.rowid; \(add); END")
            try db.execute("CREATE TRIGGER package_search_delete AFTER DELETE ON records BEGIN DELETE FROM package_search WHERE rowid = OLD.rowid; END")
            try db.execute("""
                INSERT INTO package_search (rowid, id, description)
                SELECT rowid, id, coalesce(json_extract(body, '$.description'), '') FROM records
                WHERE \(live.replacingOccurrences(of: "NEW.", with: ""))
                """)
            try db.execute("COMMIT")
        } catch {
            try? db.execute("ROLLBACK")
            throw error
        }
    }

    public func write(_ documents: [RecordDocument]) async throws -> [RecordWriteResult] {
        try await connection.run { db in
            try db.execute("BEGIN IMMEDIATE")
            do {
                var results: [RecordWriteResult] = []
                for document in documents {
                    if let problem = document.problem {
                        results.append(.failed(problem))
                        continue
                    }
                    let body = JSONValue.object(document.body.filter { $0.key != "_id" && $0.key != "_rev" }).serialized
                    let existing = try db.generation(of: document.id)
                    if existing != nil, let field = document.policy.revisionField {
                        // Inside the batch's IMMEDIATE transaction: nobody writes between this read
                        // and the update, so the comparison and the write are one step.
                        let stored = try db.storedField(field, of: document.id)
                        if !UpdatePolicy.mayReplace(stored: stored, with: document.body[field]) {
                            results.append(.keptNewer(current: stored?.stringValue ?? ""))
                            continue
                        }
                    }
                    switch (existing, document.policy) {
                    case (.some, .createOnly):
                        results.append(.alreadyExists)
                    case (let generation?, _):
                        try db.execute("UPDATE records SET generation = ?, body = ? WHERE id = ?", [.integer(generation + 1), .text(body), .text(document.id)])
                        results.append(.written(rev: "\(generation + 1)-sqlite"))
                    case (nil, _):
                        try db.execute("INSERT INTO records (id, generation, body) VALUES (?, 1, ?)", [.text(document.id), .text(body)])
                        results.append(.written(rev: "1-sqlite"))
                    }
                }
                try db.execute("COMMIT")
                return results
            } catch {
                try? db.execute("ROLLBACK")
                throw error
            }
        }
    }

    public func read(id: String) async throws -> JSONValue? {
        try await connection.run { db in
            try db.query("SELECT body FROM records WHERE id = ?", [.text(id)]) { row in try JSONValue(parsing: row.text(0)) }.first
        }
    }

    public func count() async throws -> Int {
        try await connection.run { db in
            try db.query("SELECT COUNT(*) FROM records", []) { row in row.integer(0) }.first.map(Int.init) ?? 0
        }
    }

    /// Live package records whose name or description holds `text` (ASCII case-insensitive), best
    /// first: the exact name, names starting with it, names holding it, then descriptions. A text of
    /// three characters or more is looked up in the trigram index (``prepareSearchIndex(_:)``), one
    /// bounded query per tier, so a common word costs no more than a rare one (each tier in the index's
    /// order); a shorter text, or a database not yet indexed, is a `LIKE` scan in id order.
    public func packageRecords(matching text: String, limit: Int) async throws -> [StoredRecord] {
        let wanted = text.lowercased()
        var escaping = ""
        for character in wanted {
            if character == "%" || character == "_" || character == "\\" { escaping.append("\\") }
            escaping.append(character)
        }
        let escaped = escaping
        @Sendable func record(_ row: SQLiteDatabase.Row) throws -> StoredRecord {
            StoredRecord(id: row.text(0), revision: "\(row.integer(1))-sqlite", body: try JSONValue(parsing: row.text(2)).objectValue ?? [:])
        }
        return try await connection.run { db in
            guard wanted.count >= 3, try self.hasSearchIndex(db) else {
                let scan = """
                    SELECT r.id, r.generation, r.body FROM records r
                    WHERE (r.id LIKE ?1 ESCAPE '\\' OR json_extract(r.body, '$.description') LIKE ?1 ESCAPE '\\')
                      AND json_extract(r.body, '$.type') = 'package'
                      AND json_extract(r.body, '$.deleted') IS NOT 1 AND json_extract(r.body, '$.unpublished') IS NOT 1
                    ORDER BY CASE WHEN lower(r.id) = ?3 THEN 0 WHEN lower(r.id) LIKE ?4 ESCAPE '\\' THEN 1
                                  WHEN lower(r.id) LIKE ?1 ESCAPE '\\' THEN 2 ELSE 3 END, r.id
                    LIMIT ?2
                    """
                return try db.query(scan, [.text("%" + escaped + "%"), .integer(Int64(limit)), .text(wanted), .text(escaped + "%")], record)
            }
            // The exact name and the names starting with the text are ranges of the records' primary
            // key (npm names are lower-case; a legacy upper-case one is found by the next tiers): a
            // trigram lookup would visit every name holding the text only to keep the few that start
            // with it. Joining the index keeps live packages only. The other tiers ask the index,
            // which answers LIKE on its columns (case-insensitive; `%` and `_` in the text widen the
            // pattern, so each tier's rows are checked again here).
            let literal = wanted.replacingOccurrences(of: "%", with: "_")
            let byKey = "SELECT r.id, r.generation, r.body FROM records r JOIN package_search s ON s.rowid = r.rowid"
            let byIndex = "SELECT r.id, r.generation, r.body FROM package_search s JOIN records r ON r.rowid = s.rowid"
            let tiers: [(sql: String, pattern: String, holds: (StoredRecord) -> Bool)] = [
                ("\(byKey) WHERE r.id = ?1 LIMIT ?2", wanted, { $0.id == wanted }),
                ("\(byKey) WHERE r.id > ?1 AND r.id < ?1 || char(1114111) ORDER BY r.id LIMIT ?2", wanted, { $0.id.hasPrefix(wanted) }),
                ("\(byIndex) WHERE s.id LIKE ?1 LIMIT ?2", "%" + literal + "%", { $0.id.lowercased().contains(wanted) }),
                ("\(byIndex) WHERE s.description LIKE ?1 LIMIT ?2", "%" + literal + "%", { $0.matches(wanted) }),
            ]
            var found: [StoredRecord] = []
            var seen: Set<String> = []
            for tier in tiers where found.count < limit {
                let rows = try db.query(tier.sql, [.text(tier.pattern), .integer(Int64(limit - found.count + seen.count))], record)
                for row in rows where found.count < limit && tier.holds(row) && seen.insert(row.id).inserted {
                    found.append(row)
                }
            }
            return found
        }
    }

    /// A range of the primary key (SQLite compares TEXT bytewise: the same order as CouchDB's `_all_docs`).
    public func records(after: String?, before: String?, limit: Int) async throws -> [StoredRecord] {
        var sql = "SELECT id, generation, body FROM records WHERE id > ?1"
        var parameters: [SQLiteDatabase.Value] = [.text(after ?? ""), .integer(Int64(max(0, limit)))]
        if let before {
            sql += " AND id < ?3"
            parameters.append(.text(before))
        }
        sql += " ORDER BY id LIMIT ?2"
        return try await connection.run { [sql, parameters] db in
            try db.query(sql, parameters) { row in
                StoredRecord(id: row.text(0), revision: "\(row.integer(1))-sqlite", body: try JSONValue(parsing: row.text(2)).objectValue ?? [:])
            }
        }
    }
}

/// One SQLite connection, used from one Dispatch queue at a time: every call goes through ``run(_:)``,
/// which also keeps SQLite's blocking I/O off Swift's cooperative threads. The handle is only touched
/// on that queue, which is what makes this small box `@unchecked Sendable`.
final class SQLiteConnection: @unchecked Sendable {
    private let handle: OpaquePointer
    private let queue = DispatchQueue(label: "npm-mirror.sqlite")

    init(path: String) throws {
        var handle: OpaquePointer?
        let flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX
        guard sqlite3_open_v2(path, &handle, flags, nil) == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw RecordStoreError(code: .unavailable, reason: "cannot open the record database \(path): \(message)", operation: "open")
        }
        sqlite3_busy_timeout(handle, 10_000)
        self.handle = handle
    }

    deinit {
        sqlite3_close_v2(handle)
    }

    func run<T: Sendable>(_ body: @escaping @Sendable (SQLiteDatabase) throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { [self] in
                continuation.resume(with: Result { try body(SQLiteDatabase(handle: self.handle)) })
            }
        }
    }
}

/// The statements the record store runs, over a handle it must not keep.
struct SQLiteDatabase {
    enum Value {
        case integer(Int64)
        case text(String)
    }

    struct Row {
        let statement: OpaquePointer
        func text(_ column: Int32) -> String { sqlite3_column_text(statement, column).map { String(cString: $0) } ?? "" }
        func integer(_ column: Int32) -> Int64 { sqlite3_column_int64(statement, column) }
    }

    let handle: OpaquePointer

    func execute(_ sql: String, _ values: [Value] = []) throws {
        _ = try query(sql, values) { _ in () }
    }

    func query<T>(_ sql: String, _ values: [Value], _ row: (Row) throws -> T) throws -> [T] {
        var statement: OpaquePointer?
        guard sqlite3_prepare_v2(handle, sql, -1, &statement, nil) == SQLITE_OK, let statement else { throw error(sql) }
        defer { sqlite3_finalize(statement) }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for (index, value) in values.enumerated() {
            switch value {
            case .integer(let number): sqlite3_bind_int64(statement, Int32(index + 1), number)
            case .text(let text): sqlite3_bind_text(statement, Int32(index + 1), text, -1, transient)
            }
        }
        var rows: [T] = []
        while true {
            switch sqlite3_step(statement) {
            case SQLITE_ROW: rows.append(try row(Row(statement: statement)))
            case SQLITE_DONE: return rows
            default: throw error(sql)
            }
        }
    }

    func generation(of id: String) throws -> Int64? {
        try query("SELECT generation FROM records WHERE id = ?", [.text(id)]) { $0.integer(0) }.first
    }

    /// The top-level member `field` of the stored body of `id`, nil when absent or null.
    func storedField(_ field: String, of id: String) throws -> JSONValue? {
        let path = "$." + "\"" + field.replacingOccurrences(of: "\"", with: "") + "\""
        return try query("SELECT json_extract(body, ?), json_type(body, ?) FROM records WHERE id = ?", [.text(path), .text(path), .text(id)]) { row in
            row.text(1) == "text" ? JSONValue.string(row.text(0)) : nil
        }.first ?? nil
    }

    private func error(_ sql: String) -> RecordStoreError {
        let code = sqlite3_errcode(handle)
        let message = String(cString: sqlite3_errmsg(handle))
        let retriable = code == SQLITE_BUSY || code == SQLITE_LOCKED || code == SQLITE_FULL || code == SQLITE_IOERR
        return RecordStoreError(code: retriable ? .unavailable : .serverError, reason: "SQLite: \(message)", operation: String(sql.prefix(40)))
    }
}
