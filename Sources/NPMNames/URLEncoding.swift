import MirrorJSON

/// Percent-encoding and strict percent-decoding of URL pieces: the one encoder and the one decoder
/// of the registry client, the CouchDB client, serve, the simulator and the CouchDB double.
///
/// Encoding writes every byte of the UTF-8 outside a ``ByteSet`` as `%XX` (upper-case hex).
/// Decoding is strict: a `%` not followed by two hex digits, or bytes that are not UTF-8, are an
/// error, never passed through as they were.
public enum URLEncoding {
    public enum DecodingError: Error, Equatable, Sendable, CustomStringConvertible {
        case malformedEscape
        case notUTF8

        public var description: String {
            switch self {
            case .malformedEscape: "a malformed percent escape"
            case .notUTF8: "bytes that are not UTF-8"
            }
        }
    }

    /// `text` with every byte outside `keeping` percent-encoded.
    public static func encode(_ text: some StringProtocol, keeping: ByteSet = .unreserved) -> String {
        var encoded: [UInt8] = []
        encoded.reserveCapacity(text.utf8.count)
        for byte in text.utf8 {
            if keeping.contains(byte) {
                encoded.append(byte)
            } else {
                Hex.appendPercentEscape(byte, to: &encoded)
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }

    /// The text `raw` percent-encodes; with `plusAsSpace` (a query string's form encoding) a `+` is
    /// a space.
    public static func decode(_ raw: some Collection<UInt8>, plusAsSpace: Bool = false) throws(DecodingError) -> String {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(raw.count)
        var iterator = raw.makeIterator()
        while let byte = iterator.next() {
            switch byte {
            case UInt8(ascii: "%"):
                guard let high = iterator.next().flatMap(Hex.value), let low = iterator.next().flatMap(Hex.value) else {
                    throw .malformedEscape
                }
                bytes.append(high << 4 | low)
            case UInt8(ascii: "+") where plusAsSpace:
                bytes.append(UInt8(ascii: " "))
            default:
                bytes.append(byte)
            }
        }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw .notUTF8 }
        return text
    }

    /// ``decode(_:plusAsSpace:)`` of a string's UTF-8; nil where it throws.
    public static func decoded(_ raw: some StringProtocol, plusAsSpace: Bool = false) -> String? {
        try? decode(Array(raw.utf8), plusAsSpace: plusAsSpace)
    }
}

/// A set of ASCII bytes, for what an encoder keeps as it is.
public struct ByteSet: Sendable, Hashable {
    private var low: UInt64 = 0
    private var high: UInt64 = 0

    public init(_ characters: String) {
        for byte in characters.utf8 { insert(byte) }
    }

    public func contains(_ byte: UInt8) -> Bool {
        switch byte {
        case 0..<64: low & (1 << UInt64(byte)) != 0
        case 64..<128: high & (1 << UInt64(byte - 64)) != 0
        default: false
        }
    }

    public mutating func insert(_ byte: UInt8) {
        precondition(byte < 128, "a ByteSet holds ASCII bytes")
        if byte < 64 { low |= 1 << UInt64(byte) } else { high |= 1 << UInt64(byte - 64) }
    }

    public func union(_ characters: String) -> ByteSet {
        var set = self
        for byte in characters.utf8 { set.insert(byte) }
        return set
    }

    public static let alphanumerics = ByteSet("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789")
    /// RFC 3986's unreserved characters: letters, digits and `-._~`.
    public static let unreserved = alphanumerics.union("-._~")
    /// What a path segment may carry unescaped (RFC 3986 `pchar`): unreserved, sub-delims, `:` and `@`.
    public static let pathSegment = unreserved.union("!$&'()*+,;=:@")
    /// The characters an npm package name may have (validate-package-name: those `encodeURIComponent`
    /// leaves alone): letters, digits and `-._~!*'()`.
    public static let packageName = unreserved.union("!*'()")
}
