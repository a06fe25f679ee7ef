/// Reads the row count from a Parquet file's footer (FileMetaData field 3), for `export --check`:
/// enough of Thrift's compact protocol to step over the fields before it.
enum ParquetFooter {
    enum Failure: Error, CustomStringConvertible {
        case notParquet(String)

        var description: String {
            switch self { case .notParquet(let why): "not a Parquet file: \(why)" }
        }
    }

    static func rowCount(of bytes: [UInt8]) throws -> Int64 {
        guard bytes.count >= 12, Array(bytes.prefix(4)) == ParquetFileWriter.magic, Array(bytes.suffix(4)) == ParquetFileWriter.magic else {
            throw Failure.notParquet("no PAR1 at both ends")
        }
        let lengthStart = bytes.count - 8
        let length = Int(UInt32(bytes[lengthStart]) | UInt32(bytes[lengthStart + 1]) << 8 | UInt32(bytes[lengthStart + 2]) << 16 | UInt32(bytes[lengthStart + 3]) << 24)
        guard length > 0, length <= lengthStart - 4 else { throw Failure.notParquet("a footer length of \(length)") }
        var reader = Reader(bytes: bytes, position: lengthStart - length, end: lengthStart)
        var lastID: Int16 = 0
        while true {
            let (id, type) = try reader.fieldHeader(last: &lastID)
            guard let type else { break }
            if id == 3, type == 6 { return try reader.zigzagVarint() }
            try reader.skip(type)
        }
        throw Failure.notParquet("the footer has no row count")
    }

    struct Reader {
        let bytes: [UInt8]
        var position: Int
        let end: Int

        mutating func byte() throws -> UInt8 {
            guard position < end else { throw Failure.notParquet("the footer ends early") }
            defer { position += 1 }
            return bytes[position]
        }

        mutating func varint() throws -> UInt64 {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while true {
                let next = try byte()
                guard shift < 64 else { throw Failure.notParquet("a varint too long") }
                value |= UInt64(next & 0x7F) << shift
                if next & 0x80 == 0 { return value }
                shift += 7
            }
        }

        mutating func zigzagVarint() throws -> Int64 {
            let raw = try varint()
            return Int64(bitPattern: raw >> 1) ^ -Int64(bitPattern: raw & 1)
        }

        /// The next field's id and compact type; nil type at STOP.
        mutating func fieldHeader(last: inout Int16) throws -> (Int16, UInt8?) {
            let header = try byte()
            guard header != 0 else { return (0, nil) }
            let type = header & 0x0F
            let delta = header >> 4
            let id = delta == 0 ? Int16(truncatingIfNeeded: try zigzagVarint()) : last + Int16(delta)
            last = id
            return (id, type)
        }

        mutating func skip(_ type: UInt8) throws {
            switch type {
            case 1, 2: break  // booleans: the value is the type
            case 3: _ = try byte()
            case 4, 5, 6: _ = try varint()
            case 7: position += 8
            case 8:
                let length = Int(try varint())
                guard length >= 0, position + length <= end else { throw Failure.notParquet("a string past the footer") }
                position += length
            case 9, 10:
                let header = try byte()
                let count = header >> 4 == 15 ? Int(try varint()) : Int(header >> 4)
                for _ in 0..<count { try skip(header & 0x0F) }
            case 11:
                let count = Int(try varint())
                if count > 0 {
                    let types = try byte()
                    for _ in 0..<count {
                        try skip(types >> 4)
                        try skip(types & 0x0F)
                    }
                }
            case 12:
                var last: Int16 = 0
                while true {
                    let (_, inner) = try fieldHeader(last: &last)
                    guard let inner else { break }
                    try skip(inner)
                }
            default:
                throw Failure.notParquet("an unknown field type \(type)")
            }
        }
    }
}
