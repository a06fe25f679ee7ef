import Foundation
import CompressNIO
import NIOCore

/// `<table>.csv` per table, RFC 4180: UTF-8, CRLF line ends, a header row of the column names, a
/// field quoted (its `"` doubled) when it holds a comma, a quote, CR or LF, or starts or ends with a
/// space; null is the empty field, an empty text the quoted empty field `""`. With `gzip`,
/// `<table>.csv.gz`, compressed as it is written.
final class CSVSink: ExportSink {
    private var files: [ExportTable: BufferedFile] = [:]
    private var compressors: [ExportTable: any NIOCompressor] = [:]
    private let gzip: Bool

    static func fileName(_ table: ExportTable, gzip: Bool) -> String { "\(table.rawValue).csv" + (gzip ? ".gz" : "") }

    init(directory: String, gzip: Bool) throws {
        self.gzip = gzip
        for table in ExportTable.allCases {
            let file = try BufferedFile(path: directory + "/" + Self.fileName(table, gzip: gzip))
            files[table] = file
            if gzip {
                let compressor = CompressionAlgorithm.gzip().compressor
                try compressor.startStream()
                compressors[table] = compressor
            }
            try write(Array(Self.line(table.columns.map { .text($0.name) }).utf8), to: table)
        }
    }

    func append(_ rows: [ExportRow], to table: ExportTable) throws {
        guard !rows.isEmpty else { return }
        var text = ""
        for row in rows { text += Self.line(row) }
        try write(Array(text.utf8), to: table)
    }

    func finish() throws -> [String] {
        for table in ExportTable.allCases {
            if let compressor = compressors[table] {
                var output = ByteBufferAllocator().buffer(capacity: 1 << 16)
                while true {
                    do {
                        try compressor.finishDeflate(to: &output)
                        break
                    } catch let error as CompressNIOError where error == .bufferOverflow {
                        try files[table]?.write(output.readableBytesView)
                        output.clear()
                    }
                }
                try files[table]?.write(output.readableBytesView)
                try compressor.finishStream()
            }
            try files[table]?.close()
        }
        return ExportTable.allCases.map { Self.fileName($0, gzip: gzip) }
    }

    private func write(_ bytes: [UInt8], to table: ExportTable) throws {
        guard let compressor = compressors[table] else {
            try files[table]?.write(bytes)
            return
        }
        var input = ByteBufferAllocator().buffer(bytes: bytes)
        // Room for the worst case: the whole input is taken in one call.
        var output = ByteBufferAllocator().buffer(capacity: compressor.maxSize(from: input))
        try compressor.streamDeflate(from: &input, to: &output, flush: .no)
        try files[table]?.write(output.readableBytesView)
    }

    /// One record, CRLF-terminated.
    static func line(_ row: ExportRow) -> String {
        var line = ""
        for (index, value) in row.enumerated() {
            if index > 0 { line += "," }
            guard let text = value.text else { continue }
            line += field(text)
        }
        return line + "\r\n"
    }

    static func field(_ text: String) -> String {
        let needsQuotes = text.isEmpty || text.utf8.contains { $0 == UInt8(ascii: ",") || $0 == UInt8(ascii: "\"") || $0 == 13 || $0 == 10 }
            || text.first == " " || text.last == " "
        guard needsQuotes else { return text }
        return "\"" + text.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }
}
