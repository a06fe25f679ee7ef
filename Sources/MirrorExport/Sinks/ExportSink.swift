import Foundation

/// Where an export's rows go: one implementation per format. Rows of every table arrive interleaved
/// (a package's rows at a time), in table column order; `finish` completes the files and names them.
protocol ExportSink: AnyObject {
    func append(_ rows: [ExportRow], to table: ExportTable) throws
    /// Completes every file; returns their names, relative to the export's folder.
    func finish() throws -> [String]
}

/// The export's formats.
public enum ExportFormat: String, Sendable, Codable, CaseIterable {
    /// One SQLite database, `npm-mirror.sqlite`, a table per table, indexes on the join keys.
    case sqlite
    /// One RFC 4180 file per table, `<table>.csv` (UTF-8, a header row).
    case csv
    /// One Parquet file per table, `<table>.parquet` (typed columns, GZIP pages).
    case parquet

    func makeSink(directory: String, gzip: Bool, rowGroupRows: Int) throws -> any ExportSink {
        switch self {
        case .sqlite: try SQLiteSink(path: directory + "/" + SQLiteSink.fileName)
        case .csv: try CSVSink(directory: directory, gzip: gzip)
        case .parquet: try ParquetSink(directory: directory, rowGroupRows: rowGroupRows)
        }
    }
}

/// A file written through a buffer, in large writes.
final class BufferedFile {
    let path: String
    private let handle: FileHandle
    private var buffer: [UInt8] = []
    private let capacity = 1 << 20

    init(path: String) throws {
        self.path = path
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw ExportError.output("cannot create \(path)")
        }
        handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        buffer.reserveCapacity(capacity)
    }

    func write(_ bytes: some Collection<UInt8>) throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= capacity { try flush() }
    }

    func flush() throws {
        guard !buffer.isEmpty else { return }
        do {
            try handle.write(contentsOf: buffer)
        } catch {
            throw ExportError.output("cannot write \(path): \(error)")
        }
        buffer.removeAll(keepingCapacity: true)
    }

    /// Flushes, syncs and closes.
    func close() throws {
        try flush()
        do {
            try handle.synchronize()
            try handle.close()
        } catch {
            throw ExportError.output("cannot close \(path): \(error)")
        }
    }
}
