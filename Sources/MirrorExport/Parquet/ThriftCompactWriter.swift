/// The part of Apache Thrift's compact protocol Parquet's metadata needs, write side only: structs,
/// lists, i32/i64 (zigzag varints), strings and booleans. A struct is written by calling `field…`
/// in ascending field id order inside `structure { }`; the writer keeps each struct's last field id
/// for the delta encoding of field headers.
struct ThriftCompactWriter {
    private(set) var bytes: [UInt8] = []
    private var lastFieldIDs: [Int16] = [0]

    enum CompactType: UInt8 {
        case booleanTrue = 1
        case booleanFalse = 2
        case byte = 3
        case i16 = 4
        case i32 = 5
        case i64 = 6
        case double = 7
        case binary = 8
        case list = 9
        case set = 10
        case map = 11
        case structure = 12
    }

    // MARK: Fields

    mutating func field(_ id: Int16, i32 value: Int32) {
        header(id, .i32)
        varint(zigzag(Int64(value)))
    }

    mutating func field(_ id: Int16, i64 value: Int64) {
        header(id, .i64)
        varint(zigzag(value))
    }

    mutating func field(_ id: Int16, byte value: Int8) {
        header(id, .byte)
        bytes.append(UInt8(bitPattern: value))
    }

    mutating func field(_ id: Int16, bool value: Bool) {
        header(id, value ? .booleanTrue : .booleanFalse)
    }

    mutating func field(_ id: Int16, string value: String) {
        header(id, .binary)
        binary(Array(value.utf8))
    }

    mutating func field(_ id: Int16, structure body: (inout ThriftCompactWriter) -> Void) {
        header(id, .structure)
        structure(body)
    }

    mutating func field(_ id: Int16, i32List values: [Int32]) {
        header(id, .list)
        listHeader(count: values.count, .i32)
        for value in values { varint(zigzag(Int64(value))) }
    }

    mutating func field(_ id: Int16, stringList values: [String]) {
        header(id, .list)
        listHeader(count: values.count, .binary)
        for value in values { binary(Array(value.utf8)) }
    }

    mutating func field(_ id: Int16, structList count: Int, _ element: (inout ThriftCompactWriter, Int) -> Void) {
        header(id, .list)
        listHeader(count: count, .structure)
        for index in 0..<count { structure { element(&$0, index) } }
    }

    /// A struct's fields, then its STOP byte.
    mutating func structure(_ body: (inout ThriftCompactWriter) -> Void) {
        lastFieldIDs.append(0)
        body(&self)
        bytes.append(0)  // STOP
        lastFieldIDs.removeLast()
    }

    // MARK: Encoding

    private mutating func header(_ id: Int16, _ type: CompactType) {
        let last = lastFieldIDs[lastFieldIDs.count - 1]
        let delta = Int(id) - Int(last)
        if delta > 0 && delta <= 15 {
            bytes.append(UInt8(delta) << 4 | type.rawValue)
        } else {
            bytes.append(type.rawValue)
            varint(zigzag(Int64(id)))
        }
        lastFieldIDs[lastFieldIDs.count - 1] = id
    }

    private mutating func listHeader(count: Int, _ type: CompactType) {
        if count < 15 {
            bytes.append(UInt8(count) << 4 | type.rawValue)
        } else {
            bytes.append(0xF0 | type.rawValue)
            varint(UInt64(count))
        }
    }

    private mutating func binary(_ value: [UInt8]) {
        varint(UInt64(value.count))
        bytes += value
    }

    private func zigzag(_ value: Int64) -> UInt64 {
        UInt64(bitPattern: (value << 1) ^ (value >> 63))
    }

    mutating func varint(_ value: UInt64) {
        Self.appendVarint(value, to: &bytes)
    }

    /// An unsigned LEB128 varint: Thrift's, and the run headers of Parquet's RLE hybrid encoding.
    static func appendVarint(_ value: UInt64, to out: inout [UInt8]) {
        var rest = value
        while rest >= 0x80 {
            out.append(UInt8(rest & 0x7F) | 0x80)
            rest >>= 7
        }
        out.append(UInt8(rest))
    }
}
