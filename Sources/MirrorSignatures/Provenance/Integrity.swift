import MirrorJSON
import Foundation

/// Subresource-integrity strings as npm writes `dist.integrity`: `sha512-<base64>`, possibly several
/// space-separated entries, each possibly followed by `?options` (ssri's format).
public enum Integrity {
    /// The sha512 digest in lower-case hex (as in-toto subjects write it) from the first `sha512-`
    /// entry; nil when there is none or its base64 is not 64 bytes.
    public static func sha512Hex(_ integrity: String) -> String? {
        for entry in integrity.split(whereSeparator: \.isWhitespace) where entry.hasPrefix("sha512-") {
            let base64 = entry.dropFirst("sha512-".count).prefix { $0 != "?" }
            guard let digest = Data(base64Encoded: String(base64)), digest.count == 64 else { return nil }
            return Hex.encode(digest)
        }
        return nil
    }
}
