import Crypto
import Foundation

/// One of the registry's signing keys, as `GET /-/npm/v1/keys` lists it: an ECDSA P-256 public key,
/// its key id and, for a retired key, when it stopped being good.
///
/// The npm registry signs `name@version:integrity` of every version with such a key (`dist.signatures`)
/// and signs its publish attestations with it (DSSE, ``ProvenanceVerifier``).
public struct RegistryKey: Sendable, Hashable, CustomStringConvertible {
    /// The only key type and scheme the registry uses: ECDSA over NIST P-256 with SHA-256.
    public static let keyType = "ecdsa-sha2-nistp256"

    /// The id signatures name their key by. npm's are OpenSSH-style fingerprints
    /// (``fingerprint(of:)``), but any string is taken as it stands: a keys document is trusted input.
    public let keyid: String
    /// The key's uncompressed point `0x04‖X‖Y`.
    public let x963Representation: [UInt8]
    /// The key, made once: rebuilding it from the point for every signature cost about as much as
    /// the verification itself, and the metadata-only consumer verifies every version.
    private let verifying: VerifyingKey
    /// When the key stopped being good: a version published at or after this instant is not covered
    /// by it (``isGood(forVersionPublishedAt:)``); nil for a key in use.
    public let expires: Date?

    public init(keyid: String, publicKey: P256.Signing.PublicKey, expires: Date? = nil) {
        self.keyid = keyid
        self.x963Representation = Array(publicKey.x963Representation)
        self.verifying = VerifyingKey(publicKey)
        self.expires = expires.map { Date(timeIntervalSince1970: Double(PublishTime.milliseconds($0)) / 1000) }
    }

    /// A key from its `key` field: base64 of a DER SubjectPublicKeyInfo of a P-256 key.
    ///
    /// - Throws: ``SignatureFormatError`` `invalid_key` when `base64DER` is not base64 or not such a key.
    public init(keyid: String, base64DER: String, expires: Date? = nil) throws(SignatureFormatError) {
        guard let der = Data(base64Encoded: base64DER) else {
            throw .invalidKey("the key \(keyid) is not base64")
        }
        let publicKey: P256.Signing.PublicKey
        do {
            publicKey = try P256.Signing.PublicKey(derRepresentation: der)
        } catch {
            throw .invalidKey("the key \(keyid) is not a DER SubjectPublicKeyInfo of a P-256 key")
        }
        self.init(keyid: keyid, publicKey: publicKey, expires: expires)
    }

    /// The P-256 public key.
    public var publicKey: P256.Signing.PublicKey { verifying.key }

    public static func == (lhs: RegistryKey, rhs: RegistryKey) -> Bool {
        lhs.keyid == rhs.keyid && lhs.x963Representation == rhs.x963Representation && lhs.expires == rhs.expires
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(keyid)
        hasher.combine(x963Representation)
        hasher.combine(expires)
    }

    /// The `key` field: base64 of the DER SubjectPublicKeyInfo.
    public var base64DER: String { publicKey.derRepresentation.base64EncodedString() }

    /// pacote's rule: a key is good for a version when it has no `expires`, or when the version's
    /// publish time (`time[version]`; 2015-01-01T00:00:00.000Z when absent,
    /// ``PublishTime/missingTimeCutoff``) is strictly before `expires`, compared in whole milliseconds.
    /// So versions published before the retired key's expiry stay valid under it.
    public func isGood(forVersionPublishedAt publishedAt: Date?) -> Bool {
        guard let expires else { return true }
        let published = publishedAt ?? PublishTime.missingTimeCutoff
        return PublishTime.milliseconds(published) < PublishTime.milliseconds(expires)
    }

    /// The OpenSSH fingerprint of a P-256 key, which npm uses as the key id:
    /// `"SHA256:"` + unpadded base64 of SHA-256 over the key's SSH wire encoding — string
    /// `"ecdsa-sha2-nistp256"`, string `"nistp256"`, string Q (the uncompressed point `0x04‖X‖Y`),
    /// each string a big-endian `UInt32` length and its bytes (RFC 4253 §6.6, RFC 5656 §3.1).
    /// It is not a hash of the DER bytes.
    public static func fingerprint(of publicKey: P256.Signing.PublicKey) -> String {
        var wire: [UInt8] = []
        func appendString(_ bytes: some Collection<UInt8>) {
            let count = UInt32(bytes.count)
            wire += [UInt8(count >> 24), UInt8((count >> 16) & 0xFF), UInt8((count >> 8) & 0xFF), UInt8(count & 0xFF)]
            wire += bytes
        }
        appendString(Array(keyType.utf8))
        appendString(Array("nistp256".utf8))
        appendString(publicKey.x963Representation)
        let base64 = Data(SHA256.hash(data: wire)).base64EncodedString()
        return "SHA256:" + base64.prefix { $0 != "=" }
    }

    /// ``fingerprint(of:)`` of this key: equal to ``keyid`` for the registry's own keys.
    public var fingerprint: String { Self.fingerprint(of: publicKey) }

    public var description: String {
        "RegistryKey(\(keyid)\(expires.map { ", expires \(PublishTime.format($0))" } ?? ""))"
    }
}

/// A public key shared between threads. swift-crypto 3's key types are not `Sendable`; a public
/// key is immutable once made, and verifying with it (BoringSSL's `ECDSA_do_verify` on a `const`
/// key) changes nothing, so concurrent verifications are safe.
private final class VerifyingKey: @unchecked Sendable {
    let key: P256.Signing.PublicKey

    init(_ key: P256.Signing.PublicKey) {
        self.key = key
    }
}
