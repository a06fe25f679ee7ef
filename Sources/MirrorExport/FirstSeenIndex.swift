import CSQLite
import Foundation

/// The lowest seq of each package among the change records, kept on disk while an export runs (a
/// full mirror has millions of packages: not a dictionary in memory) and removed after.
final class FirstSeenIndex {
    private let handle: OpaquePointer
    private let path: String
    private let upsert: OpaquePointer
    private let lookup: OpaquePointer
    private var removed = false

    init(path: String) throws {
        self.path = path
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK, let handle else {
            sqlite3_close(handle)
            throw ExportError.output("cannot create the scratch index \(path)")
        }
        self.handle = handle
        let setup = """
            PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
            CREATE TABLE first_seen (name TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
            """
        var upsert: OpaquePointer?
        var lookup: OpaquePointer?
        guard sqlite3_exec(handle, setup, nil, nil, nil) == SQLITE_OK,
            sqlite3_prepare_v2(
                handle, "INSERT INTO first_seen (name, seq) VALUES (?1, ?2) ON CONFLICT (name) DO UPDATE SET seq = min(seq, excluded.seq)", -1, &upsert, nil)
                == SQLITE_OK,
            sqlite3_prepare_v2(handle, "SELECT seq FROM first_seen WHERE name = ?1", -1, &lookup, nil) == SQLITE_OK,
            let upsert, let lookup
        else {
            let message = String(cString: sqlite3_errmsg(handle))
            sqlite3_close_v2(handle)
            throw ExportError.output("cannot set up the scratch index \(path): \(message)")
        }
        self.upsert = upsert
        self.lookup = lookup
    }

    deinit {
        remove()
    }

    /// Notes that each package was changed at its seq.
    func note(_ seen: [(name: String, seq: Int64)]) throws {
        guard !seen.isEmpty else { return }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        guard sqlite3_exec(handle, "BEGIN", nil, nil, nil) == SQLITE_OK else { throw failure("begin") }
        for (name, seq) in seen {
            sqlite3_reset(upsert)
            sqlite3_bind_text(upsert, 1, name, -1, transient)
            sqlite3_bind_int64(upsert, 2, seq)
            guard sqlite3_step(upsert) == SQLITE_DONE else { throw failure("note") }
        }
        guard sqlite3_exec(handle, "COMMIT", nil, nil, nil) == SQLITE_OK else { throw failure("commit") }
    }

    /// The lowest seq noted for `name`.
    func seq(of name: String) throws -> Int64? {
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        sqlite3_reset(lookup)
        sqlite3_bind_text(lookup, 1, name, -1, transient)
        switch sqlite3_step(lookup) {
        case SQLITE_ROW: return sqlite3_column_int64(lookup, 0)
        case SQLITE_DONE: return nil
        default: throw failure("look up")
        }
    }

    /// Closes and deletes the file (again: nothing).
    func remove() {
        guard !removed else { return }
        removed = true
        sqlite3_finalize(upsert)
        sqlite3_finalize(lookup)
        sqlite3_close_v2(handle)
        try? FileManager.default.removeItem(atPath: path)
    }

    private func failure(_ operation: String) -> ExportError {
        .output("the scratch index could not \(operation): \(String(cString: sqlite3_errmsg(handle)))")
    }
}
