import BigInt
import Crypto
import Foundation

/// ECDSA P-256/SHA-256 with a nonce derived from the key and the message, so the same key signs the
/// same message with the same bytes (swift-crypto's signatures are randomised, which would make the
/// simulator render a document differently each time; "same seed, same bytes" holds for its
/// signatures too). For the simulator only: the nonce is HMAC-SHA-256(key, message) reduced into
/// 1..<n (close to RFC 6979's idea, not its exact procedure), and the arithmetic is not constant
/// time.
enum DeterministicECDSA {
    /// The order of P-256's group.
    static let order = BigUInt("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551", radix: 16)!

    static func sign(_ key: P256.Signing.PrivateKey, _ message: [UInt8]) throws -> P256.Signing.ECDSASignature {
        let n = order
        let d = BigUInt(key.rawRepresentation)
        let z = BigUInt(Data(SHA256.hash(data: message)))
        var counter: UInt8 = 0
        while true {
            // k: the HMAC of the message (and a counter, for the rare k, r or s that is unusable).
            var mac = HMAC<SHA256>(key: SymmetricKey(data: key.rawRepresentation))
            mac.update(data: message)
            mac.update(data: [counter])
            let k = BigUInt(Data(mac.finalize())) % n
            counter &+= 1
            guard k != 0, let nonce = try? P256.Signing.PrivateKey(rawRepresentation: Self.bytes(k)) else { continue }
            // R = k·G: the nonce's public key; r is its x coordinate mod n.
            let point = Array(nonce.publicKey.x963Representation)  // 0x04 ‖ X ‖ Y
            let r = BigUInt(Data(point[1...32])) % n
            guard r != 0, let inverse = k.inverse(n) else { continue }
            let s = (inverse * ((z + r * d) % n)) % n
            guard s != 0 else { continue }
            return try P256.Signing.ECDSASignature(rawRepresentation: Self.bytes(r) + Self.bytes(s))
        }
    }

    /// A number below 2²⁵⁶ as 32 big-endian bytes.
    private static func bytes(_ value: BigUInt) -> Data {
        let serialized = value.serialize()
        return Data(repeating: 0, count: 32 - serialized.count) + serialized
    }
}
