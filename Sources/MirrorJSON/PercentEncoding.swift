/// Percent-encoding of a URL component (a path segment, a query name or value): RFC 3986's unreserved
/// bytes as they are, every other byte of the UTF-8 as `%XX` (upper-case hex). The one encoder of the
/// CouchDB client and the registry client.
public enum PercentEncoding {
    private static let upperHex = Array("0123456789ABCDEF".utf8)

    public static func component(_ string: String) -> String {
        var encoded: [UInt8] = []
        encoded.reserveCapacity(string.utf8.count)
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                encoded.append(byte)
            default:
                encoded += [UInt8(ascii: "%"), upperHex[Int(byte >> 4)], upperHex[Int(byte & 0x0F)]]
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }
}
