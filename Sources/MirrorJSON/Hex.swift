/// Hexadecimal: lower case out (as npm's `shasum`, in-toto digests and CouchDB revisions are
/// written), either case in. The one codec of the package (digests, store shards, revisions,
/// percent-escapes).
public enum Hex {
    private static let digits = Array("0123456789abcdef".utf8)
    private static let upperDigits = Array("0123456789ABCDEF".utf8)

    public static func encode(_ bytes: some Sequence<UInt8>) -> String {
        var text: [UInt8] = []
        for byte in bytes { append(byte, to: &text) }
        return String(decoding: text, as: UTF8.self)
    }

    /// Appends the two digits of `byte` (lower case, or upper case as percent-escapes are written).
    public static func append(_ byte: UInt8, upperCase: Bool = false, to text: inout [UInt8]) {
        let digits = upperCase ? upperDigits : digits
        text.append(digits[Int(byte >> 4)])
        text.append(digits[Int(byte & 0x0F)])
    }

    /// Appends `%XX`, upper case: a percent-escape as RFC 3986 recommends.
    public static func appendPercentEscape(_ byte: UInt8, to text: inout [UInt8]) {
        text.append(UInt8(ascii: "%"))
        append(byte, upperCase: true, to: &text)
    }

    /// Sixteen lower-case digits of `value`, zero-padded.
    public static func encode(_ value: UInt64) -> String {
        encode(withUnsafeBytes(of: value.bigEndian) { Array($0) })
    }

    /// The bytes of an even-length string of hex digits (either case); nil for anything else.
    public static func decode(_ text: String) -> [UInt8]? {
        let utf8 = Array(text.utf8)
        guard utf8.count % 2 == 0 else { return nil }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(utf8.count / 2)
        var index = 0
        while index < utf8.count {
            guard let high = value(utf8[index]), let low = value(utf8[index + 1]) else { return nil }
            bytes.append(high << 4 | low)
            index += 2
        }
        return bytes
    }

    /// The value of one hex digit (either case); nil for any other byte.
    public static func value(_ digit: UInt8) -> UInt8? {
        switch digit {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): digit - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): digit - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): digit - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
