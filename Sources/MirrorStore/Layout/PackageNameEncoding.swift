import Crypto
import MirrorJSON

/// Turns npm package names (and versions, and revisions) into one safe path component, and back.
///
/// Every byte of the UTF-8 form outside `[a-z0-9._-]` — uppercase letters included — becomes
/// `%XX` with two uppercase hex digits; a leading `.` is escaped too (`%2E`). So:
///
/// - the result is pure ASCII from `[a-z0-9._%A-F-]`: never contains `/`, NUL or control characters;
/// - it never starts with `.`, so it is never `.`, `..`, a hidden file, or a store temp file (`.tmp-`);
/// - it is injective even on case-insensitive file systems: letters outside `%XX` are always
///   lowercase and hex digits inside are always uppercase, so two encodings that differ only
///   in case cannot both be produced (`Foo` → `%46oo`, `foo` → `foo`);
/// - Unicode normalisation cannot merge two names: the output is ASCII, and NFC and NFD forms
///   of a name have different UTF-8 bytes, hence different escapes.
///
/// The empty string encodes to `%` (which no other input produces).
///
/// When the escaped form would be longer than ``maximumComponentLength`` bytes, the encoding is
/// instead `%%` followed by the lowercase hex SHA-256 of the UTF-8 name (66 bytes). That form is
/// not reversible by itself — ``decode(_:)`` returns nil for it — so the store keeps the
/// original name in a file beside it (see `PackageStore`). `%%` never occurs in an escaped form,
/// so the two forms cannot collide.
public enum PackageNameEncoding {
    /// The longest component the escaped form may have; longer names are hashed. 255 bytes is
    /// the usual file-name limit; a margin is kept for suffixes such as `.json.gz` or `-<version>.tgz`.
    public static let maximumComponentLength = 200

    /// Prefix of the hashed form.
    public static let hashedPrefix = "%%"

    /// The escaped form, or the hashed form when the escaped one is too long.
    public static func encode(_ name: String) -> String {
        let escaped = escape(name)
        if escaped.utf8.count <= maximumComponentLength { return escaped }
        return hashedPrefix + Hex.encode(SHA256.hash(data: Array(name.utf8)))
    }

    /// The escaped form whatever its length (used where the caller handles length itself).
    public static func escape(_ name: String) -> String {
        if name.isEmpty { return "%" }
        var output: [UInt8] = []
        output.reserveCapacity(name.utf8.count)
        for (offset, byte) in name.utf8.enumerated() {
            if isPlain(byte), !(offset == 0 && byte == UInt8(ascii: ".")) {
                output.append(byte)
            } else {
                Hex.appendPercentEscape(byte, to: &output)
            }
        }
        return String(decoding: output, as: UTF8.self)
    }

    /// Whether `component` is the hashed (non-reversible) form.
    public static func isHashed(_ component: String) -> Bool {
        component.hasPrefix(hashedPrefix)
    }

    /// The name for an escaped form, or nil when `component` is not exactly what ``escape(_:)``
    /// produces for some name (so `encode(decode(x)!) == x` whenever decode succeeds), or when
    /// it is the hashed form.
    public static func decode(_ component: String) -> String? {
        if component == "%" { return "" }
        var bytes: [UInt8] = []
        var iterator = component.utf8.makeIterator()
        var isFirst = true
        while let byte = iterator.next() {
            defer { isFirst = false }
            if byte == UInt8(ascii: "%") {
                guard let high = iterator.next().flatMap(hexValue), let low = iterator.next().flatMap(hexValue) else {
                    return nil
                }
                let decoded = high << 4 | low
                // Plain bytes must not be escaped (except a leading dot), or two spellings would exist.
                if isPlain(decoded), !(isFirst && decoded == UInt8(ascii: ".")) { return nil }
                bytes.append(decoded)
            } else {
                guard isPlain(byte), !(isFirst && byte == UInt8(ascii: ".")) else { return nil }
                bytes.append(byte)
            }
        }
        guard !bytes.isEmpty, let name = String(validating: bytes, as: UTF8.self) else { return nil }
        return name
    }


    private static func isPlain(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "-"):
            return true
        default:
            return false
        }
    }

    /// Uppercase hex digits only: lowercase ones are never produced.
    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return byte - UInt8(ascii: "0")
        case UInt8(ascii: "A")...UInt8(ascii: "F"): return byte - UInt8(ascii: "A") + 10
        default: return nil
        }
    }
}

