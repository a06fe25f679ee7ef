import Crypto

/// `_rev` values: `"<generation>-<32 hex>"`, where the generation counts the document's changes.
enum Revision {
    static func make(name: String, generation: Int, seed: UInt64) -> String {
        let digest = Insecure.MD5.hash(data: Array("\(name)\u{0}\(generation)\u{0}\(seed)".utf8))
        return "\(generation)-\(Hex.encode(digest))"
    }

    /// The generation number of a `_rev` string, if it has one.
    static func generation(of rev: String) -> Int? {
        guard let dash = rev.firstIndex(of: "-") else { return nil }
        return Int(rev[..<dash])
    }
}

enum Hex {
    static func encode<Bytes: Sequence<UInt8>>(_ bytes: Bytes) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for byte in bytes {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0xF)])
        }
        return String(decoding: out, as: UTF8.self)
    }
}
