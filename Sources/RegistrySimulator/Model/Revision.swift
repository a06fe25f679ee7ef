import MirrorJSON
import Crypto

/// `_rev` values: `"<generation>-<32 hex>"`, where the generation counts the document's changes.
enum Revision {
    static func make(name: String, generation: Int, seed: UInt64) -> String {
        let digest = Insecure.MD5.hash(data: Array("\(name)\u{0}\(generation)\u{0}\(seed)".utf8))
        return "\(generation)-\(Hex.encode(digest))"
    }
}

