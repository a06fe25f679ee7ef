import Crypto
import Foundation
import MirrorJSON

/// Signs versions as the npm registry does, with a P-256 key of one's own: `dist.signatures` entries
/// and the npm publish attestation. For the registry simulator and tests; what it makes verifies with
/// ``SignatureVerifier`` and ``ProvenanceVerifier`` given ``trustedKeys``.
public struct RegistrySigner: Sendable {
    /// The private key's raw scalar (kept as bytes: swift-crypto 3's key types are not `Sendable`).
    private let rawPrivateKey: [UInt8]
    /// The key id the signatures name.
    public let keyid: String
    /// Makes an ECDSA P-256/SHA-256 signature of a message with the private key.
    public typealias SigningFunction = @Sendable (_ privateKey: P256.Signing.PrivateKey, _ message: [UInt8]) throws -> P256.Signing.ECDSASignature
    private let sign: SigningFunction

    /// - Parameters:
    ///   - keyid: the id to sign under; by default the key's OpenSSH fingerprint, as npm's
    ///     (``RegistryKey/fingerprint(of:)``).
    ///   - sign: how a signature is made; by default swift-crypto's (randomised). The simulator
    ///     passes a deterministic one so the same seed renders the same bytes.
    public init(privateKey: P256.Signing.PrivateKey, keyid: String? = nil, sign: SigningFunction? = nil) {
        self.rawPrivateKey = Array(privateKey.rawRepresentation)
        self.keyid = keyid ?? RegistryKey.fingerprint(of: privateKey.publicKey)
        self.sign = sign ?? { key, message in try key.signature(for: Data(message)) }
    }

    /// The signing key.
    public var privateKey: P256.Signing.PrivateKey {
        // The bytes came from a valid key (`init`), so they always make one again.
        guard let key = try? P256.Signing.PrivateKey(rawRepresentation: rawPrivateKey) else {
            preconditionFailure("the raw private key no longer makes a P-256 key")
        }
        return key
    }

    /// The public half, as a registry key (served at `/-/npm/v1/keys`).
    public func registryKey(expires: Date? = nil) -> RegistryKey {
        RegistryKey(keyid: keyid, publicKey: privateKey.publicKey, expires: expires)
    }

    /// The trust set of this key alone.
    public var trustedKeys: TrustedKeys { TrustedKeys(key: registryKey()) }

    /// The `dist.signatures` entry for a version: ECDSA P-256/SHA-256 over
    /// `"\(packageName)@\(version):\(integrity)"` (``SignatureVerifier/message(packageName:version:integrity:)``),
    /// base64 of DER.
    public func distSignature(packageName: String, version: String, integrity: String) throws -> DistSignature {
        let message = SignatureVerifier.message(packageName: packageName, version: version, integrity: integrity)
        let signature = try sign(privateKey, Array(message.utf8))
        return DistSignature(keyid: keyid, sig: signature.derRepresentation.base64EncodedString())
    }

    /// The in-toto statement of the npm publish attestation, compact JSON:
    /// `{"_type":"https://in-toto.io/Statement/v0.1","predicate":{"name","registry","version"},
    /// "predicateType": <publish v0.1>,"subject":[{"digest":{"sha512": hex},"name":"pkg:npm/…"}]}`.
    ///
    /// - Throws: ``SignatureFormatError`` `malformed_integrity` when `integrity` has no sha512.
    public static func publishStatement(
        packageName: String, version: String, integrity: String, registry: String
    ) throws(SignatureFormatError) -> [UInt8] {
        guard let sha512 = Integrity.sha512Hex(integrity) else {
            throw .malformedIntegrity("\(packageName)@\(version): \(integrity) has no sha512 entry")
        }
        let statement: JSONValue = [
            "_type": "https://in-toto.io/Statement/v0.1",
            "subject": [["name": .string(PackageURL.npm(name: packageName, version: version)), "digest": ["sha512": .string(sha512)]]],
            "predicateType": .string(Attestation.publishPredicateType),
            "predicate": ["name": .string(packageName), "version": .string(version), "registry": .string(registry)],
        ]
        return statement.serializedBytes
    }

    /// The npm publish attestation for a version: ``publishStatement(packageName:version:integrity:registry:)``
    /// in a DSSE envelope signed (DER) over its pre-authentication encoding, in a bundle that names the
    /// key (`verificationMaterial.publicKey.hint`). It has no transparency-log entries: it was never
    /// logged, so its key's expiry is judged at the version's publish time.
    ///
    /// - Parameter registry: the predicate's `registry` (informative, not checked).
    /// - Throws: ``SignatureFormatError`` `malformed_integrity`, or the signing error.
    public func publishAttestation(
        packageName: String, version: String, integrity: String, registry: String = "https://registry.npmjs.org"
    ) throws -> Attestation {
        let statement = try Self.publishStatement(packageName: packageName, version: version, integrity: integrity, registry: registry)
        let signed = DSSEEnvelope.preAuthenticationEncoding(payloadType: DSSEEnvelope.inTotoPayloadType, payload: statement)
        let signature = try sign(privateKey, Array(signed))
        let envelope = DSSEEnvelope(
            payload: Data(statement).base64EncodedString(),
            payloadType: DSSEEnvelope.inTotoPayloadType,
            signatures: [.init(keyid: keyid, sig: signature.derRepresentation.base64EncodedString())])
        let bundle: JSONValue = [
            "mediaType": .string(Attestation.bundleMediaType),
            "verificationMaterial": ["publicKey": ["hint": .string(keyid)], "tlogEntries": []],
            "dsseEnvelope": envelope.json,
        ]
        return try Attestation(json: ["predicateType": .string(Attestation.publishPredicateType), "bundle": bundle])
    }

    /// The body of `/-/npm/v1/attestations/<name>@<version>` holding the publish attestation alone.
    public func attestationsResponse(
        packageName: String, version: String, integrity: String, registry: String = "https://registry.npmjs.org"
    ) throws -> AttestationsResponse {
        AttestationsResponse(attestations: [
            try publishAttestation(packageName: packageName, version: version, integrity: integrity, registry: registry)
        ])
    }
}
