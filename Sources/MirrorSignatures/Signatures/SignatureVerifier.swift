import Crypto
import Foundation
import MirrorJSON

/// Checks a version's registry signatures (`dist.signatures`) against trusted keys, as npm's pacote does
/// for `npm install`/`npm audit signatures` — with one deliberate difference in how several signatures
/// combine (see ``verify(packageName:version:integrity:signatures:publishedAt:)``).
///
/// The signed message is the UTF-8 string `"\(name)@\(version):\(integrity)"` (``message(packageName:version:integrity:)``),
/// where `name` is the **packument's** name — not the version's own `name` field, which can differ — and
/// `integrity` is `dist.integrity` exactly as it stands. Each signature is ECDSA P-256 over SHA-256 of
/// that message, base64 of its DER encoding. Only name, version and integrity are signed: `tarball`,
/// `shasum`, dependencies and `time` are not.
public struct SignatureVerifier: Sendable {
    public var keys: TrustedKeys

    public init(keys: TrustedKeys = .npmBuiltIn) {
        self.keys = keys
    }

    /// The signed message: `"\(packageName)@\(version):\(integrity)"` (pacote writes it
    /// `${mani._id}:${mani._integrity}`). The registry signs under the name of the package it stores the
    /// version in, the packument's `name`; pass that, not the version document's own `name`.
    public static func message(packageName: String, version: String, integrity: String) -> String {
        "\(packageName)@\(version):\(integrity)"
    }

    /// The verdict on a version's signatures.
    ///
    /// - Parameters:
    ///   - packageName: the packument's `name` (not the version's own `name` field).
    ///   - integrity: `dist.integrity` as it stands.
    ///   - signatures: `dist.signatures` (``DistSignature/list(from:)``).
    ///   - publishedAt: `time[version]` of the full packument (``PublishTime/parse(_:)``); nil when
    ///     absent, which counts as 2015-01-01T00:00:00.000Z (pacote's `MISSING_TIME_CUTOFF`).
    ///
    /// Each signature is judged alone (``verdict(of:message:publishedAt:)``), then:
    /// - no signatures: `missing`;
    /// - any signature `verified`: `verified`;
    /// - otherwise the worst finding, in the order `invalid` > `expired_key` > `unknown_key`.
    ///
    /// pacote is stricter with several signatures: it throws on the first one whose key it does not
    /// have, whose key has expired, or that does not verify. Here one good signature by a trusted,
    /// unexpired key is enough, because it already authenticates the one message all of them sign;
    /// the others can name keys this mirror does not trust yet (a key rotation) without making a
    /// genuine version fail. When none verifies, the worst finding is reported, so a forged signature
    /// beside an unknown key id reads as `invalid`, not as a missing key.
    public func verify(
        packageName: String,
        version: String,
        integrity: String,
        signatures: [DistSignature],
        publishedAt: Date?
    ) -> SignatureVerdict {
        guard !signatures.isEmpty else { return .missing }
        let message = Array(Self.message(packageName: packageName, version: version, integrity: integrity).utf8)
        var worst: SignatureVerdict?
        for signature in signatures {
            let verdict = self.verdict(of: signature, message: message, publishedAt: publishedAt)
            if verdict == .verified { return .verified }
            if worst.map({ Self.severity(verdict) > Self.severity($0) }) ?? true { worst = verdict }
        }
        return worst ?? .missing
    }

    /// One signature's verdict over `message`:
    /// - `unknown_key` when its `keyid` is not trusted;
    /// - `invalid` when `sig` is not base64 (standard or URL-safe) of a DER ECDSA signature, or does
    ///   not verify with the key;
    /// - `expired_key` when it verifies but the key was no longer good at `publishedAt`
    ///   (``RegistryKey/isGood(forVersionPublishedAt:)``);
    /// - `verified` otherwise.
    ///
    /// The signature is checked before the expiry (pacote checks the expiry first), so `expired_key`
    /// always means a genuine signature by a retired key on a version dated after its retirement, and
    /// a forgery under a retired key id is `invalid`.
    public func verdict(of signature: DistSignature, message: [UInt8], publishedAt: Date?) -> SignatureVerdict {
        guard let key = keys[signature.keyid] else { return .unknownKey }
        guard let der = Base64.decode(signature.sig),
            let ecdsa = try? P256.Signing.ECDSASignature(derRepresentation: der),
            key.publicKey.isValidSignature(ecdsa, for: Data(message))
        else { return .invalid }
        return key.isGood(forVersionPublishedAt: publishedAt) ? .verified : .expiredKey
    }

    /// The verdict on a version straight from its packument's JSON.
    ///
    /// - Parameters:
    ///   - packageName: the packument's `name`.
    ///   - dist: `versions[version].dist`; its `signatures` are read with ``DistSignature/list(from:)``
    ///     (malformed: `invalid`; absent, null or empty: `missing`).
    ///   - time: `time[version]` of the packument, as it stands. Absent: 2015-01-01 (pacote). Present
    ///     but not a time: no expiring key is good for it, as in pacote, where `Date.parse` gives NaN
    ///     and every comparison with it is false.
    ///
    /// The integrity signed is `dist.integrity`; a version without one is signed over its `shasum` as
    /// pacote derives it, `"sha1-" + base64(shasum bytes)` (``signedIntegrity(dist:)``); with neither,
    /// signatures are `invalid` (there is nothing they can sign).
    public func verify(packageName: String, version: String, dist: JSONValue, time: String?) -> SignatureVerdict {
        let signatures: [DistSignature]
        do {
            signatures = try DistSignature.list(from: dist["signatures"])
        } catch {
            return .invalid
        }
        return verify(
            packageName: packageName, version: version, integrity: dist["integrity"]?.stringValue,
            shasum: dist["shasum"]?.stringValue, signatures: signatures, time: time)
    }

    /// A version's verdict from its `dist` fields as read (the consumer's packument reader gives
    /// them): `missing` without signatures, `invalid` when there is neither an integrity nor a
    /// usable shasum for them to sign; `time` is `time[version]` (an unreadable one counts as after
    /// every expiry, as in pacote).
    public func verify(
        packageName: String, version: String, integrity: String?, shasum: String?, signatures: [DistSignature], time: String?
    ) -> SignatureVerdict {
        guard !signatures.isEmpty else { return .missing }
        guard let signed = Self.signedIntegrity(integrity: integrity, shasum: shasum) else { return .invalid }
        let publishedAt = time.map { PublishTime.parse($0) ?? .distantFuture }
        return verify(packageName: packageName, version: version, integrity: signed, signatures: signatures, publishedAt: publishedAt)
    }

    /// The integrity string the registry signs for a version: `dist.integrity` when it is a string,
    /// otherwise pacote's fallback from a 40-digit hex `dist.shasum`, `"sha1-" + base64(bytes)`.
    public static func signedIntegrity(dist: JSONValue) -> String? {
        signedIntegrity(integrity: dist["integrity"]?.stringValue, shasum: dist["shasum"]?.stringValue)
    }

    /// ``signedIntegrity(dist:)`` from the two fields.
    public static func signedIntegrity(integrity: String?, shasum: String?) -> String? {
        if let integrity { return integrity }
        guard let shasum, let bytes = Hex.decode(shasum), bytes.count == 20 else { return nil }
        return "sha1-" + Data(bytes).base64EncodedString()
    }

    private static func severity(_ verdict: SignatureVerdict) -> Int {
        switch verdict {
        case .invalid: 3
        case .expiredKey: 2
        case .unknownKey: 1
        case .missing, .verified: 0
        }
    }
}
