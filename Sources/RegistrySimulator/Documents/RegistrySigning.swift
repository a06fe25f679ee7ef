import Crypto
import Foundation
import MirrorJSON
import MirrorSignatures
import Synchronization

/// A way the simulator's signatures or attestations of one package go wrong (set per package in
/// ``RegistrySimulator/Configuration/signatureFaults`` or with ``RegistrySimulator/setSignatureFault(_:for:)``).
public enum SignatureFault: String, Sendable, Hashable, CaseIterable, Codable {
    /// Each version's signature is over another message (its version with `-tampered` appended).
    case badSignature = "bad-signature"
    /// Signed by a key `/-/npm/v1/keys` does not list.
    case unknownKey = "unknown-key"
    /// No `dist.signatures`.
    case missingSignatures = "missing-signatures"
    /// Signed by the retired key, which expired before every generated version was published.
    case expiredKey = "expired-key"
    /// `dist.attestations` is there, but `/-/npm/v1/attestations/…` answers 404.
    case attestationNotFound = "attestation-404"
    /// `dist.attestations` is there, but `/-/npm/v1/attestations/…` answers 500.
    case attestationServerError = "attestation-500"
    /// The publish attestation names another tarball digest.
    case wrongSubjectDigest = "wrong-subject-digest"

    var isAttestationFault: Bool {
        self == .attestationNotFound || self == .attestationServerError || self == .wrongSubjectDigest
    }
}

/// The simulator's registry keys and what they sign, as registry.npmjs.org does it: every version
/// carries `dist.signatures` (ECDSA P-256 over `<name>@<version>:<integrity>`), `/-/npm/v1/keys`
/// lists the current key and a retired one with its expiry, and every fourth package (by a hash of
/// its name) has attestations: `dist.attestations` and an npm publish attestation signed by the
/// current key at `/-/npm/v1/attestations/<name>@<version>`.
///
/// Keys come from the seed and signatures are deterministic (``DeterministicECDSA``), so the same
/// seed renders the same bytes; each signature is also made once and kept.
final class RegistrySigning: Sendable {
    let current: RegistrySigner
    let retired: RegistrySigner
    /// A key nobody lists (``SignatureFault/unknownKey``).
    let stranger: RegistrySigner
    /// The retired key's expiry: the start of the generated timeline, so every generated version
    /// signed by it is `expired_key`.
    static let retiredKeyExpiry = Date(timeIntervalSince1970: 1_325_376_000)
    static let provenancePredicateType = "https://slsa.dev/provenance/v1"

    private struct State {
        var faults: [String: SignatureFault]
        var signatures: [String: [DistSignature]] = [:]
        var attestations: [String: [UInt8]] = [:]
    }
    private let state: Mutex<State>

    init(seed: UInt64, faults: [String: SignatureFault]) {
        current = RegistrySigner(privateKey: Self.key(seed: seed, stream: "registry-key-current"), sign: DeterministicECDSA.sign)
        retired = RegistrySigner(privateKey: Self.key(seed: seed, stream: "registry-key-retired"), sign: DeterministicECDSA.sign)
        stranger = RegistrySigner(privateKey: Self.key(seed: seed, stream: "registry-key-stranger"), sign: DeterministicECDSA.sign)
        state = Mutex(State(faults: faults))
    }

    /// `/-/npm/v1/keys`: the retired key (with its expiry) and the current one.
    var keysDocument: [UInt8] {
        // Two distinct generated keys: the set is valid.
        (try? TrustedKeys([retired.registryKey(expires: Self.retiredKeyExpiry), current.registryKey()]))?.keysDocumentBytes ?? []
    }

    func setFault(_ fault: SignatureFault?, for name: String) {
        state.withLock { state in
            state.faults[name] = fault
            let prefix = name + "@"
            state.signatures = state.signatures.filter { !$0.key.hasPrefix(prefix) }
            state.attestations = state.attestations.filter { !$0.key.hasPrefix(prefix) }
        }
    }

    func fault(for name: String) -> SignatureFault? {
        state.withLock { $0.faults[name] }
    }

    /// The `dist.signatures` of a version.
    func signatures(name: String, version: String, integrity: String) -> [DistSignature] {
        let key = "\(name)@\(version):\(integrity)"
        if let known = state.withLock({ $0.signatures[key] }) { return known }
        let fault = fault(for: name)
        let signed: [DistSignature]
        switch fault {
        case .missingSignatures:
            signed = []
        case .badSignature:
            signed = [(try? current.distSignature(packageName: name, version: version + "-tampered", integrity: integrity))].compactMap { $0 }
        case .unknownKey:
            signed = [(try? stranger.distSignature(packageName: name, version: version, integrity: integrity))].compactMap { $0 }
        case .expiredKey:
            signed = [(try? retired.distSignature(packageName: name, version: version, integrity: integrity))].compactMap { $0 }
        default:
            signed = [(try? current.distSignature(packageName: name, version: version, integrity: integrity))].compactMap { $0 }
        }
        state.withLock { $0.signatures[key] = signed }
        return signed
    }

    /// Whether the package's versions carry `dist.attestations`.
    func hasAttestations(name: String) -> Bool {
        if fault(for: name)?.isAttestationFault == true { return true }
        return SplitMix64.fnv1a(name) % 4 == 0
    }

    /// What `/-/npm/v1/attestations/<name>@<version>` answers for a version with `integrity`: the
    /// response's bytes, or an error status.
    enum AttestationsAnswer: Sendable, Equatable {
        case body([UInt8])
        case status(Int)
    }

    func attestations(name: String, version: String, integrity: String) -> AttestationsAnswer {
        guard hasAttestations(name: name) else { return .status(404) }
        switch fault(for: name) {
        case .attestationNotFound: return .status(404)
        case .attestationServerError: return .status(500)
        default: break
        }
        let key = "\(name)@\(version):\(integrity)"
        if let known = state.withLock({ $0.attestations[key] }) { return .body(known) }
        // A wrong subject digest: the attestation of another tarball (the sha512 of nothing).
        let subject = fault(for: name) == .wrongSubjectDigest ? "sha512-" + Data(SHA512.hash(data: Data())).base64EncodedString() : integrity
        guard let response = try? current.attestationsResponse(packageName: name, version: version, integrity: subject) else {
            return .status(500)
        }
        let body = response.json.serializedBytes
        state.withLock { $0.attestations[key] = body }
        return .body(body)
    }

    /// A P-256 key from the seed: 32 bytes of the seeded stream, drawn again in the (vanishingly
    /// rare) case they are not a valid scalar.
    private static func key(seed: UInt64, stream: String) -> P256.Signing.PrivateKey {
        var random = SplitMix64(seed: seed, stream: stream)
        while true {
            var bytes: [UInt8] = []
            for _ in 0..<4 { withUnsafeBytes(of: random.next().bigEndian) { bytes.append(contentsOf: $0) } }
            if let key = try? P256.Signing.PrivateKey(rawRepresentation: bytes) { return key }
        }
    }
}
