import Crypto
import Foundation
import MirrorJSON

/// Checks a version's attestations offline, with no trust beyond the registry keys: the npm publish
/// attestation's DSSE signature, and every attestation's subject.
///
/// Per attestation, in this order (the first failure is the attestation's):
/// 1. the DSSE payload is base64 and its type is `application/vnd.in-toto+json`;
/// 2. the signature — the envelope's first, as pacote takes `signatures[0]`:
///    - with a `keyid` (the publish attestation): the key must be trusted, the signature (base64 of
///      DER, or of raw 64-byte `r‖s`) must verify over the DSSE pre-authentication encoding
///      (``DSSEEnvelope/preAuthenticationEncoding(payloadType:payload:)``) with ECDSA P-256/SHA-256,
///      and the key must be good at the transparency-log entry's `integratedTime` (pacote's rule;
///      when the bundle has none, the version's publish time; 2015-01-01 when neither is known);
///    - without one (SLSA provenance, signed by a Sigstore certificate): not checked — the
///      certificate's chain to Fulcio and the log's proofs are out of scope; a publish attestation
///      without a key id is a failure;
/// 3. the statement (the decoded payload) is JSON with a `subject` array, and its signed
///    `predicateType` is the one the response states;
/// 4. a subject is named `pkg:npm/<name>@<version>` (``PackageURL/npm(name:version:)``) and its
///    `digest.sha512` is the hex of the sha512 in `dist.integrity` (pacote compares `subject[0]`).
///
/// The verdict: `missing` without attestations; `invalid` when any attestation fails (or the version's
/// integrity has no sha512 to compare with); `verified` when a publish attestation's signature verified
/// (and nothing failed); `present_unverified` otherwise.
public struct ProvenanceVerifier: Sendable {
    public var keys: TrustedKeys

    public init(keys: TrustedKeys = .npmBuiltIn) {
        self.keys = keys
    }

    /// Verifies the attestations of `packageName@version`.
    ///
    /// - Parameters:
    ///   - packageName: the packument's `name`.
    ///   - integrity: `dist.integrity` (`sha512-<base64>`).
    ///   - publishedAt: `time[version]`, for the key's expiry when a bundle has no log entry time.
    public func verify(
        _ response: AttestationsResponse,
        packageName: String,
        version: String,
        integrity: String,
        publishedAt: Date?
    ) -> ProvenanceResult {
        guard !response.attestations.isEmpty else {
            return ProvenanceResult(verdict: .missing, checks: [], responseFailure: nil)
        }
        guard let sha512 = Integrity.sha512Hex(integrity) else {
            let failure = ProvenanceFailure(
                code: .integrity, predicateType: nil,
                message: "\(packageName)@\(version) has attestations but its integrity \(integrity) has no sha512")
            return ProvenanceResult(verdict: .invalid, checks: [], responseFailure: failure)
        }
        let subject = PackageURL.npm(name: packageName, version: version)
        let checks = response.attestations.map {
            check($0, subjectName: subject, sha512Hex: sha512, publishedAt: publishedAt)
        }
        let verdict: ProvenanceVerdict
        if checks.contains(where: { $0.failure != nil }) {
            verdict = .invalid
        } else if checks.contains(where: { $0.predicateType == Attestation.publishPredicateType && $0.verifiedKeyID != nil }) {
            verdict = .verified
        } else {
            verdict = .presentUnverified
        }
        return ProvenanceResult(verdict: verdict, checks: checks, responseFailure: nil)
    }

    /// Verifies an attestations response body; a body that is not one is `invalid`
    /// (`malformed_response`). An absent response (404) is the caller's `missing`.
    public func verify(
        attestationsBody: some Collection<UInt8>,
        packageName: String,
        version: String,
        integrity: String,
        publishedAt: Date?
    ) -> ProvenanceResult {
        do {
            let response = try AttestationsResponse(parsing: attestationsBody)
            return verify(response, packageName: packageName, version: version, integrity: integrity, publishedAt: publishedAt)
        } catch {
            let failure = ProvenanceFailure(code: .malformedResponse, predicateType: nil, message: error.message)
            return ProvenanceResult(verdict: .invalid, checks: [], responseFailure: failure)
        }
    }

    /// One attestation's check (see the type's documentation for the steps).
    ///
    /// - Parameters:
    ///   - subjectName: the package URL a subject must have (``PackageURL/npm(name:version:)``).
    ///   - sha512Hex: the tarball's sha512 in hex (``Integrity/sha512Hex(_:)``).
    public func check(
        _ attestation: Attestation,
        subjectName: String,
        sha512Hex: String,
        publishedAt: Date?
    ) -> ProvenanceResult.Check {
        let predicateType = attestation.predicateType
        func failed(_ code: ProvenanceFailure.Code, _ message: String) -> ProvenanceResult.Check {
            .init(predicateType: predicateType, outcome: .failed(.init(code: code, predicateType: predicateType, message: message)))
        }
        let envelope = attestation.envelope
        guard let payload = envelope.decodedPayload else { return failed(.malformedPayload, "the DSSE payload is not base64") }
        guard envelope.payloadType == DSSEEnvelope.inTotoPayloadType else {
            return failed(
                .payloadType, "the DSSE payload type is \(JSONValue.string(envelope.payloadType)), not \(DSSEEnvelope.inTotoPayloadType)")
        }

        // The signature.
        guard let signature = envelope.signatures.first else { return failed(.unsigned, "the DSSE envelope has no signature") }
        var verifiedKeyID: String?
        if signature.keyid.isEmpty {
            if predicateType == Attestation.publishPredicateType {
                return failed(.unsigned, "the publish attestation names no registry key")
            }
        } else {
            guard let key = keys[signature.keyid] else {
                return failed(.unknownKey, "signed with the key \(signature.keyid), which is not trusted")
            }
            let signed = DSSEEnvelope.preAuthenticationEncoding(payloadType: envelope.payloadType, payload: payload)
            guard Self.isValidSignature(base64: signature.sig, over: signed, key: key.publicKey) else {
                return failed(.signature, "the DSSE signature does not verify with the key \(key.keyid)")
            }
            let signedAt = attestation.integratedTime ?? publishedAt
            guard key.isGood(forVersionPublishedAt: signedAt) else {
                return failed(
                    .expiredKey, "the key \(key.keyid) had expired at \(PublishTime.format(signedAt ?? PublishTime.missingTimeCutoff))")
            }
            verifiedKeyID = key.keyid
        }

        // The statement and its subject.
        guard let statement = try? JSONValue(parsing: payload), statement.objectValue != nil else {
            return failed(.malformedStatement, "the DSSE payload is not a JSON object")
        }
        guard let statedType = statement["predicateType"]?.stringValue else {
            return failed(.malformedStatement, "the statement has no \"predicateType\"")
        }
        guard statedType == predicateType else {
            return failed(.predicateType, "the statement's predicateType is \(JSONValue.string(statedType))")
        }
        guard let subjects = statement["subject"]?.arrayValue else {
            return failed(.malformedStatement, "the statement has no \"subject\" array")
        }
        guard let subject = subjects.first(where: { $0["name"]?.stringValue == subjectName }) else {
            let names = subjects.map { $0["name"].map(\.description) ?? "no name" }.joined(separator: ", ")
            return failed(.subjectName, "no subject is \(subjectName) (subjects: \(names.isEmpty ? "none" : names))")
        }
        guard let digest = subject["digest"]?["sha512"]?.stringValue, digest.lowercased() == sha512Hex else {
            let found = subject["digest"]?["sha512"].map(\.description) ?? "none"
            return failed(.subjectDigest, "the subject's sha512 is \(found), the tarball's is \(sha512Hex)")
        }
        let outcome: ProvenanceResult.Outcome = verifiedKeyID.map { .signatureVerified(keyid: $0) } ?? .signatureNotChecked
        return .init(predicateType: predicateType, outcome: outcome)
    }

    /// ECDSA P-256/SHA-256 over `message`; `base64` holds a DER signature or a raw 64-byte `r‖s`
    /// (the forms DSSE signers write). False for anything not base64 or neither form.
    static func isValidSignature(base64: String, over message: [UInt8], key: P256.Signing.PublicKey) -> Bool {
        guard let bytes = Base64.decode(base64) else { return false }
        let message = Data(message)
        if let der = try? P256.Signing.ECDSASignature(derRepresentation: bytes),
            key.isValidSignature(der, for: message)
        {
            return true
        }
        guard bytes.count == 64, let raw = try? P256.Signing.ECDSASignature(rawRepresentation: bytes) else { return false }
        return key.isValidSignature(raw, for: message)
    }
}
