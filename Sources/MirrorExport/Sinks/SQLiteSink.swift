import CSQLite

/// `npm-mirror.sqlite`: a table per export table (text as TEXT, integers as INTEGER, booleans as
/// INTEGER 0/1, timestamps as ISO 8601 TEXT), filled through prepared statements in transactions of
/// `batchRows`, with the join keys indexed once the rows are in (faster than keeping the indexes as
/// rows arrive). Written without a journal: a failed export is deleted, not resumed.
final class SQLiteSink: ExportSink {
    static let fileName = "npm-mirror.sqlite"
    private let handle: OpaquePointer
    private let path: String
    private var statements: [ExportTable: OpaquePointer] = [:]
    private var rowsInTransaction = 0
    private let batchRows = 50_000
    private var isClosed = false

    init(path: String) throws {
        self.path = path
        var handle: OpaquePointer?
        guard sqlite3_open_v2(path, &handle, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nil) == SQLITE_OK, let handle else {
            let message = handle.map { String(cString: sqlite3_errmsg($0)) } ?? "out of memory"
            sqlite3_close(handle)
            throw ExportError.output("cannot create \(path): \(message)")
        }
        self.handle = handle
        try execute("PRAGMA journal_mode = OFF")
        try execute("PRAGMA synchronous = OFF")
        for table in ExportTable.allCases {
            let columns = table.columns.map { column in
                "\"\(column.name)\" \(Self.sqlType(column.kind))" + (column.nullable ? "" : " NOT NULL")
            }
            try execute("CREATE TABLE \"\(table.rawValue)\" (\(columns.joined(separator: ", ")))")
            let placeholders = Array(repeating: "?", count: table.columns.count).joined(separator: ", ")
            var statement: OpaquePointer?
            guard sqlite3_prepare_v2(handle, "INSERT INTO \"\(table.rawValue)\" VALUES (\(placeholders))", -1, &statement, nil) == SQLITE_OK, let statement else {
                throw error("prepare the insert into \(table.rawValue)")
            }
            statements[table] = statement
        }
        try execute("BEGIN")
    }

    deinit {
        for statement in statements.values { sqlite3_finalize(statement) }
        if !isClosed { sqlite3_close_v2(handle) }
    }

    static func sqlType(_ kind: ExportColumn.Kind) -> String {
        switch kind {
        case .text, .timestamp: "TEXT"
        case .integer, .boolean: "INTEGER"
        }
    }

    func append(_ rows: [ExportRow], to table: ExportTable) throws {
        guard let statement = statements[table] else { return }
        let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)
        for row in rows {
            sqlite3_reset(statement)
            for (index, value) in row.enumerated() {
                let position = Int32(index + 1)
                switch value {
                case .null: sqlite3_bind_null(statement, position)
                case .text(let text): sqlite3_bind_text(statement, position, text, -1, transient)
                case .integer(let number): sqlite3_bind_int64(statement, position, number)
                case .boolean(let flag): sqlite3_bind_int64(statement, position, flag ? 1 : 0)
                case .timestamp: sqlite3_bind_text(statement, position, value.text ?? "", -1, transient)
                }
            }
            guard sqlite3_step(statement) == SQLITE_DONE else { throw error("insert into \(table.rawValue)") }
            rowsInTransaction += 1
        }
        if rowsInTransaction >= batchRows {
            try execute("COMMIT")
            try execute("BEGIN")
            rowsInTransaction = 0
        }
    }

    func finish() throws -> [String] {
        try execute("COMMIT")
        for table in ExportTable.allCases {
            for (number, columns) in table.indexedColumns.enumerated() {
                let list = columns.map { "\"\($0)\"" }.joined(separator: ", ")
                try execute("CREATE INDEX \"\(table.rawValue)_\(number)\" ON \"\(table.rawValue)\" (\(list))")
            }
        }
        try execute("ANALYZE")
        for statement in statements.values { sqlite3_finalize(statement) }
        statements = [:]
        guard sqlite3_close_v2(handle) == SQLITE_OK else { throw error("close") }
        isClosed = true
        return [Self.fileName]
    }

    private func execute(_ sql: String) throws {
        guard sqlite3_exec(handle, sql, nil, nil, nil) == SQLITE_OK else { throw error(sql) }
    }

    private func error(_ operation: String) -> ExportError {
        .output("SQLite could not \(operation) in \(path): \(String(cString: sqlite3_errmsg(handle)))")
    }
}
