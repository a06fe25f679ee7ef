import CompressNIO
import NIOCore

/// A Parquet file of one table, written row group by row group: no Swift library writes Parquet, so
/// this is a small writer limited to what the export's tables need, checked against pyarrow and
/// DuckDB in the tests.
///
/// - Columns are flat (no nesting, no repetition): `text` is BYTE_ARRAY with the STRING logical type,
///   `integer` INT64, `boolean` BOOLEAN, `timestamp` INT64 with TIMESTAMP(UTC, MICROS); a nullable
///   column is OPTIONAL, the others REQUIRED.
/// - Each row group holds up to `rowGroupRows` rows (or about `rowGroupBytes` of values), one data
///   page (v1) per column chunk: definition levels in the RLE hybrid encoding (bit width 1, as runs),
///   values PLAIN, the page GZIP-compressed. Memory holds one row group.
/// - The footer is the Thrift compact FileMetaData, its length, and `PAR1`.
final class ParquetFileWriter {
    let table: ExportTable
    private let file: BufferedFile
    private let columns: [ExportColumn]
    private var buffered: [[ExportValue]]
    private var bufferedRows = 0
    private var bufferedBytes = 0
    private var offset: Int64 = 0
    private var rowGroups: [RowGroup] = []
    private var totalRows: Int64 = 0
    let rowGroupRows: Int
    let rowGroupBytes: Int

    struct ColumnChunk {
        var dataPageOffset: Int64
        var values: Int64
        var uncompressed: Int64
        var compressed: Int64
    }

    struct RowGroup {
        var chunks: [ColumnChunk]
        var rows: Int64
        var bytes: Int64
    }

    static let magic = Array("PAR1".utf8)

    init(path: String, table: ExportTable, rowGroupRows: Int = 100_000, rowGroupBytes: Int = 64 << 20) throws {
        self.table = table
        self.columns = table.columns
        self.file = try BufferedFile(path: path)
        self.rowGroupRows = max(1, rowGroupRows)
        self.rowGroupBytes = rowGroupBytes
        buffered = Array(repeating: [], count: columns.count)
        try write(Self.magic)
    }

    func append(_ rows: [ExportRow]) throws {
        for row in rows {
            for (index, value) in row.enumerated() {
                buffered[index].append(value)
                if case .text(let text) = value { bufferedBytes += text.utf8.count + 4 } else { bufferedBytes += 8 }
            }
            bufferedRows += 1
            if bufferedRows >= rowGroupRows || bufferedBytes >= rowGroupBytes { try flushRowGroup() }
        }
    }

    /// Writes the last row group and the footer, and closes the file.
    func finish() throws {
        try flushRowGroup()
        let metadata = fileMetaData()
        try write(metadata)
        var length: [UInt8] = []
        Self.appendLittleEndian(UInt32(metadata.count), to: &length)
        try write(length)
        try write(Self.magic)
        try file.close()
    }

    private func write(_ bytes: [UInt8]) throws {
        try file.write(bytes)
        offset += Int64(bytes.count)
    }

    private func flushRowGroup() throws {
        guard bufferedRows > 0 else { return }
        var chunks: [ColumnChunk] = []
        var groupBytes: Int64 = 0
        for (index, column) in columns.enumerated() {
            let values = buffered[index]
            let raw = Self.pageData(values, column: column)
            let compressed = try Self.gzip(raw)
            var header = ThriftCompactWriter()
            header.structure { page in
                page.field(1, i32: 0)  // DATA_PAGE
                page.field(2, i32: Int32(raw.count))
                page.field(3, i32: Int32(compressed.count))
                page.field(5) { data in
                    data.field(1, i32: Int32(values.count))
                    data.field(2, i32: 0)  // PLAIN
                    data.field(3, i32: 3)  // RLE
                    data.field(4, i32: 3)  // RLE
                }
            }
            let start = offset
            try write(header.bytes)
            try write(compressed)
            let chunk = ColumnChunk(
                dataPageOffset: start, values: Int64(values.count),
                uncompressed: Int64(header.bytes.count + raw.count), compressed: Int64(header.bytes.count + compressed.count))
            groupBytes += chunk.uncompressed
            chunks.append(chunk)
        }
        rowGroups.append(RowGroup(chunks: chunks, rows: Int64(bufferedRows), bytes: groupBytes))
        totalRows += Int64(bufferedRows)
        buffered = Array(repeating: [], count: columns.count)
        bufferedRows = 0
        bufferedBytes = 0
    }

    /// Definition levels (for an OPTIONAL column) and the PLAIN values of the non-null ones.
    static func pageData(_ values: [ExportValue], column: ExportColumn) -> [UInt8] {
        var out: [UInt8] = []
        if column.nullable {
            let levels = definitionLevels(values.map { $0 != .null })
            appendLittleEndian(UInt32(levels.count), to: &out)
            out += levels
        }
        switch column.kind {
        case .boolean:
            var byte: UInt8 = 0
            var bits = 0
            for value in values {
                guard case .boolean(let flag) = value else { continue }
                if flag { byte |= 1 << bits }
                bits += 1
                if bits == 8 {
                    out.append(byte)
                    byte = 0
                    bits = 0
                }
            }
            if bits > 0 { out.append(byte) }
        case .integer, .timestamp:
            for value in values {
                let number: Int64
                switch value {
                case .integer(let integer): number = integer
                case .timestamp(let micros): number = micros
                default: continue
                }
                appendLittleEndian(number, to: &out)
            }
        case .text:
            for value in values {
                guard case .text(let text) = value else { continue }
                let utf8 = Array(text.utf8)
                appendLittleEndian(UInt32(utf8.count), to: &out)
                out += utf8
            }
        }
        return out
    }

    /// The RLE/bit-packed hybrid encoding of 0/1 levels (bit width 1), as RLE runs only: each run is
    /// a varint header `count << 1` and the level in one byte.
    static func definitionLevels(_ present: [Bool]) -> [UInt8] {
        var out: [UInt8] = []
        var index = 0
        while index < present.count {
            let level = present[index]
            var end = index
            while end < present.count, present[end] == level { end += 1 }
            ThriftCompactWriter.appendVarint(UInt64(end - index) << 1, to: &out)
            out.append(level ? 1 : 0)
            index = end
        }
        return out
    }

    /// A page in one piece, through CompressNIO's one-shot gzip (as the store gzips packuments).
    static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        var input = ByteBufferAllocator().buffer(bytes: bytes)
        return Array(try input.compress(with: .gzip()).readableBytesView)
    }

    static func appendLittleEndian(_ value: some FixedWidthInteger, to out: inout [UInt8]) {
        withUnsafeBytes(of: value.littleEndian) { out += $0 }
    }

    /// FileMetaData: version, schema (a root and one element per column), rows, row groups, creator.
    private func fileMetaData() -> [UInt8] {
        var writer = ThriftCompactWriter()
        writer.structure { meta in
            meta.field(1, i32: 1)
            meta.field(2, structList: columns.count + 1) { element, index in
                guard index > 0 else {
                    element.field(4, string: "schema")
                    element.field(5, i32: Int32(columns.count))
                    return
                }
                let column = columns[index - 1]
                element.field(1, i32: Self.physicalType(column.kind))
                element.field(3, i32: column.nullable ? 1 : 0)  // OPTIONAL : REQUIRED
                element.field(4, string: column.name)
                switch column.kind {
                case .text:
                    element.field(6, i32: 0)  // UTF8
                    element.field(10) { logical in logical.field(1) { _ in } }  // STRING
                case .timestamp:
                    element.field(6, i32: 10)  // TIMESTAMP_MICROS
                    element.field(10) { logical in
                        logical.field(8) { timestamp in
                            timestamp.field(1, bool: true)  // adjusted to UTC
                            timestamp.field(2) { unit in unit.field(2) { _ in } }  // MICROS
                        }
                    }
                case .integer:
                    element.field(6, i32: 18)  // INT_64
                    element.field(10) { logical in
                        logical.field(10) { integer in
                            integer.field(1, byte: 64)
                            integer.field(2, bool: true)
                        }
                    }
                case .boolean:
                    break
                }
            }
            meta.field(3, i64: totalRows)
            meta.field(4, structList: rowGroups.count) { group, index in
                let rowGroup = rowGroups[index]
                group.field(1, structList: columns.count) { chunk, column in
                    let written = rowGroup.chunks[column]
                    chunk.field(2, i64: written.dataPageOffset)
                    chunk.field(3) { data in
                        data.field(1, i32: Self.physicalType(columns[column].kind))
                        data.field(2, i32List: columns[column].nullable ? [0, 3] : [0])  // PLAIN, RLE
                        data.field(3, stringList: [columns[column].name])
                        data.field(4, i32: 2)  // GZIP
                        data.field(5, i64: written.values)
                        data.field(6, i64: written.uncompressed)
                        data.field(7, i64: written.compressed)
                        data.field(9, i64: written.dataPageOffset)
                    }
                }
                group.field(2, i64: rowGroup.bytes)
                group.field(3, i64: rowGroup.rows)
            }
            meta.field(6, string: "npm-mirror export (schema \(ExportTable.schemaVersion))")
        }
        return writer.bytes
    }

    /// BOOLEAN 0, INT64 2, BYTE_ARRAY 6.
    static func physicalType(_ kind: ExportColumn.Kind) -> Int32 {
        switch kind {
        case .boolean: 0
        case .integer, .timestamp: 2
        case .text: 6
        }
    }
}

/// `<table>.parquet` per table.
final class ParquetSink: ExportSink {
    private var writers: [ExportTable: ParquetFileWriter] = [:]

    static func fileName(_ table: ExportTable) -> String { "\(table.rawValue).parquet" }

    init(directory: String, rowGroupRows: Int = 100_000) throws {
        for table in ExportTable.allCases {
            writers[table] = try ParquetFileWriter(path: directory + "/" + Self.fileName(table), table: table, rowGroupRows: rowGroupRows)
        }
    }

    func append(_ rows: [ExportRow], to table: ExportTable) throws {
        try writers[table]?.append(rows)
    }

    func finish() throws -> [String] {
        for table in ExportTable.allCases { try writers[table]?.finish() }
        return ExportTable.allCases.map(Self.fileName)
    }
}
