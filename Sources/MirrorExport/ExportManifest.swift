import CSQLite
import CompressNIO
import Crypto
import Foundation
import MirrorJSON
import NIOCore

/// `manifest.json`, written last into every export: what the files are, how many rows each table
/// has, the SHA-256 of every file, the seqs the rows are as of, the keys behind the signature
/// verdicts and the command that made it. ``check(directory:)`` re-verifies a received export.
public struct ExportManifest: Codable, Sendable, Equatable {
    public static let fileName = "manifest.json"

    public struct SeqRange: Codable, Sendable, Equatable {
        public var first: Int64
        public var last: Int64
    }

    public struct Table: Codable, Sendable, Equatable {
        public var name: ExportTable
        public var rows: Int
        public var columns: [Column]
    }

    /// A column's name and kind (`text`, `integer`, `boolean`, `timestamp`), as the files hold them.
    public struct Column: Codable, Sendable, Equatable {
        public var name: String
        public var type: ExportColumn.Kind
    }

    public struct File: Codable, Sendable, Equatable {
        public var name: String
        public var bytes: Int64
        public var sha256: String

        static func describe(name: String, in directory: String) throws -> File {
            let (bytes, digest) = try digestOfFile(directory + "/" + name)
            return File(name: name, bytes: bytes, sha256: digest)
        }
    }

    public var schemaVersion: Int
    public var format: ExportFormat
    public var gzip: Bool
    public var createdAt: String
    public var finishedAt: String
    public var command: [String]
    /// The lowest and highest `last_seq` of the package records exported: every package row is as of
    /// a change in this range (nil when no record has a seq).
    public var packageSeqs: SeqRange?
    /// The seqs of the `changes` table.
    public var changeSeqs: SeqRange?
    public var tables: [Table]
    public var files: [File]
    public var trustedKeyIDs: [String]
    public var emails: ExportEmails
    /// Package records whose packument the store did not hold (only their `packages` row is exported).
    public var packagesWithoutPackument: Int
    /// Stored packuments that were not JSON objects (likewise).
    public var unreadablePackuments: Int

    enum CodingKeys: String, CodingKey {
        case schemaVersion = "schema_version", format, gzip, createdAt = "created_at", finishedAt = "finished_at", command
        case packageSeqs = "package_seqs", changeSeqs = "change_seqs", tables, files, trustedKeyIDs = "trusted_key_ids", emails
        case packagesWithoutPackument = "packages_without_packument", unreadablePackuments = "unreadable_packuments"
    }

    public func rows(of table: ExportTable) -> Int? { tables.first { $0.name == table }?.rows }

    func write(to directory: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do {
            try encoder.encode(self).write(to: URL(fileURLWithPath: directory + "/" + Self.fileName), options: .atomic)
        } catch {
            throw ExportError.output("cannot write \(directory)/\(Self.fileName): \(error)")
        }
    }

    /// Reads `manifest.json` of an export.
    public static func read(directory: String) throws -> ExportManifest {
        let path = directory + "/" + fileName
        guard let data = FileManager.default.contents(atPath: path) else { throw ExportError.manifest("no \(fileName) in \(directory)") }
        do {
            return try JSONDecoder().decode(ExportManifest.self, from: data)
        } catch {
            throw ExportError.manifest("\(path) is not an export manifest: \(error)")
        }
    }

    /// Checks a received export against its manifest, offline: every file present with its size and
    /// SHA-256, no file the manifest does not name, and each table's row count as the file reads.
    /// Returns what does not hold (empty: the export is as made).
    ///
    /// - Throws: ``ExportError/manifest(_:)`` when there is no readable manifest.
    public static func check(directory: String) throws -> [String] {
        let manifest = try read(directory: directory)
        var problems: [String] = []
        guard manifest.schemaVersion == ExportTable.schemaVersion else {
            return ["schema version \(manifest.schemaVersion) is not the one this npm-mirror reads (\(ExportTable.schemaVersion))"]
        }
        var intact: Set<String> = []
        for file in manifest.files {
            guard !file.name.contains("/"), !file.name.hasPrefix(".") else {
                problems.append("the manifest names a file outside the export: \(file.name)")
                continue
            }
            let path = directory + "/" + file.name
            guard FileManager.default.fileExists(atPath: path) else {
                problems.append("\(file.name): missing")
                continue
            }
            do {
                let (bytes, digest) = try digestOfFile(path)
                if bytes != file.bytes {
                    problems.append("\(file.name): \(bytes) bytes, the manifest says \(file.bytes) (truncated or grown)")
                } else if digest != file.sha256 {
                    problems.append("\(file.name): SHA-256 \(digest), the manifest says \(file.sha256) (changed)")
                } else {
                    intact.insert(file.name)
                }
            } catch {
                problems.append("\(file.name): unreadable (\(error))")
            }
        }
        let named = Set(manifest.files.map(\.name) + [fileName])
        for entry in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where !named.contains(entry) {
            problems.append("\(entry): not named by the manifest")
        }
        // Row counts, read from the files that are intact (a changed file is already reported).
        for table in manifest.tables {
            do {
                guard let counted = try countRows(of: table.name, manifest: manifest, directory: directory, intact: intact) else { continue }
                if counted != table.rows { problems.append("\(table.name.rawValue): \(counted) rows, the manifest says \(table.rows)") }
            } catch {
                problems.append("\(table.name.rawValue): rows unreadable (\(error))")
            }
        }
        return problems
    }

    /// The rows of a table as its file reads, or nil when that file is not intact.
    static func countRows(of table: ExportTable, manifest: ExportManifest, directory: String, intact: Set<String>) throws -> Int? {
        switch manifest.format {
        case .sqlite:
            guard intact.contains(SQLiteSink.fileName) else { return nil }
            var handle: OpaquePointer?
            guard sqlite3_open_v2(directory + "/" + SQLiteSink.fileName, &handle, SQLITE_OPEN_READONLY, nil) == SQLITE_OK, let handle else {
                sqlite3_close(handle)
                throw ExportError.manifest("cannot open \(SQLiteSink.fileName)")
            }
            defer { sqlite3_close_v2(handle) }
            var statement: OpaquePointer?
            guard sqlite3_prepare_v2(handle, "SELECT COUNT(*) FROM \"\(table.rawValue)\"", -1, &statement, nil) == SQLITE_OK, let statement else {
                throw ExportError.manifest("no table \(table.rawValue) in \(SQLiteSink.fileName)")
            }
            defer { sqlite3_finalize(statement) }
            guard sqlite3_step(statement) == SQLITE_ROW else { throw ExportError.manifest("cannot count \(table.rawValue)") }
            return Int(sqlite3_column_int64(statement, 0))
        case .parquet:
            let name = ParquetSink.fileName(table)
            guard intact.contains(name) else { return nil }
            let bytes = try Array(Data(contentsOf: URL(fileURLWithPath: directory + "/" + name)))
            return Int(try ParquetFooter.rowCount(of: bytes))
        case .csv:
            let name = CSVSink.fileName(table, gzip: manifest.gzip)
            guard intact.contains(name) else { return nil }
            var counter = CSVRecordCounter()
            try forEachChunk(of: directory + "/" + name, gunzip: manifest.gzip) { counter.feed($0) }
            return max(0, counter.records - 1)  // the header
        }
    }
}

/// Counts RFC 4180 records: line ends outside quotes (a quoted field may hold CR and LF).
struct CSVRecordCounter {
    private(set) var records = 0
    private var inQuotes = false
    private var lineHasContent = false

    mutating func feed(_ bytes: some Sequence<UInt8>) {
        for byte in bytes {
            if byte == UInt8(ascii: "\"") {
                inQuotes.toggle()
                lineHasContent = true
            } else if byte == 10, !inQuotes {
                records += 1
                lineHasContent = false
            } else if byte != 13 {
                lineHasContent = true
            }
        }
    }
}

/// The size and SHA-256 (hex) of a file, read in chunks.
func digestOfFile(_ path: String) throws -> (bytes: Int64, sha256: String) {
    var hasher = SHA256()
    var bytes: Int64 = 0
    try forEachChunk(of: path, gunzip: false) { chunk in
        hasher.update(data: chunk)
        bytes += Int64(chunk.count)
    }
    return (bytes, Hex.encode(hasher.finalize()))
}

/// Reads a file 1 MiB at a time (gunzipped when asked), handing each chunk to `body`.
func forEachChunk(of path: String, gunzip: Bool, _ body: ([UInt8]) throws -> Void) throws {
    guard let handle = FileHandle(forReadingAtPath: path) else { throw ExportError.manifest("cannot read \(path)") }
    defer { try? handle.close() }
    let decompressor = gunzip ? CompressionAlgorithm.gzip().decompressor : nil
    try decompressor?.startStream()
    defer { try? decompressor?.finishStream() }
    while true {
        let data = try handle.read(upToCount: 1 << 20) ?? Data()
        if data.isEmpty { break }
        guard let decompressor else {
            try body(Array(data))
            continue
        }
        var input = ByteBuffer(bytes: data)
        while input.readableBytes > 0 {
            var output = ByteBufferAllocator().buffer(capacity: 1 << 20)
            let before = input.readableBytes
            do {
                try decompressor.streamInflate(from: &input, to: &output)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                // The output filled up: hand it on and go on with the rest of the input.
            }
            // Bytes after the end of the gzip stream make no progress: not a file this export wrote.
            if input.readableBytes == before && output.readableBytes == 0 { throw ExportError.manifest("\(path): data after the end of the gzip stream") }
            try body(Array(output.readableBytesView))
        }
    }
}
