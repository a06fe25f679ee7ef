/// What checking a version's attestations (`/-/npm/v1/attestations/<name>@<version>`) found.
///
/// The raw values are snake_case and bounded: they are metric label values and record fields.
public enum ProvenanceVerdict: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The npm publish attestation's signature verifies with a trusted registry key, and every
    /// attestation's subject names this version and its tarball's sha512.
    case verified
    /// Every attestation's subject names this version and its tarball, but there is no publish
    /// attestation to verify: the rest (SLSA provenance) is signed by Sigstore certificates, whose
    /// chain to Fulcio and transparency-log proofs are not checked here.
    case presentUnverified = "present_unverified"
    /// The version has no attestations.
    case missing
    /// A signature check failed, a subject does not match, or an attestation is malformed
    /// (``ProvenanceFailure`` says which).
    case invalid

    public var description: String { rawValue }
}

/// Why an attestation did not pass: a bounded ``code`` and a message naming the attestation and what
/// was found.
public struct ProvenanceFailure: Error, Sendable, Hashable, CustomStringConvertible {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let description: String

        /// The response is not the attestations JSON (``AttestationsResponse/init(parsing:)``).
        public static let malformedResponse = Code(description: "malformed_response")
        /// The version's `dist.integrity` has no usable sha512 to compare subjects with.
        public static let integrity = Code(description: "integrity")
        /// The DSSE payload is not base64.
        public static let malformedPayload = Code(description: "malformed_payload")
        /// The DSSE payload type is not `application/vnd.in-toto+json`.
        public static let payloadType = Code(description: "payload_type")
        /// The payload is not an in-toto statement with `subject` and `predicateType`.
        public static let malformedStatement = Code(description: "malformed_statement")
        /// The statement's (signed) `predicateType` is not the response's `predicateType`.
        public static let predicateType = Code(description: "predicate_type")
        /// No subject is named `pkg:npm/<name>@<version>`.
        public static let subjectName = Code(description: "subject_name")
        /// The subject's `digest.sha512` is not the tarball's sha512.
        public static let subjectDigest = Code(description: "subject_digest")
        /// The envelope has no signature, or the publish attestation has no registry key id.
        public static let unsigned = Code(description: "unsigned")
        /// The signature names a key that is not trusted.
        public static let unknownKey = Code(description: "unknown_key")
        /// The key was no longer good at the attestation's time.
        public static let expiredKey = Code(description: "expired_key")
        /// The signature does not verify (or is not base64, DER or raw `r‖s`).
        public static let signature = Code(description: "signature")
    }

    public let code: Code
    /// The attestation's `predicateType`; nil for a failure of the whole response.
    public let predicateType: String?
    public let message: String

    public init(code: Code, predicateType: String?, message: String) {
        self.code = code
        self.predicateType = predicateType
        self.message = message
    }

    public var description: String {
        "\(code): \(message)" + (predicateType.map { " (\($0))" } ?? "")
    }
}

/// What ``ProvenanceVerifier`` found: the verdict, and per attestation what was checked.
public struct ProvenanceResult: Sendable, Hashable, CustomStringConvertible {
    /// One attestation's outcome.
    public enum Outcome: Sendable, Hashable {
        /// Subject matched and its DSSE signature verified with the registry key `keyid`.
        case signatureVerified(keyid: String)
        /// Subject matched; signed without a registry key (Sigstore certificate), not checked here.
        case signatureNotChecked
        case failed(ProvenanceFailure)
    }

    public struct Check: Sendable, Hashable {
        public let predicateType: String
        public let outcome: Outcome

        public var failure: ProvenanceFailure? {
            if case .failed(let failure) = outcome { return failure }
            return nil
        }

        /// The registry key whose signature verified, if one did.
        public var verifiedKeyID: String? {
            if case .signatureVerified(let keyid) = outcome { return keyid }
            return nil
        }
    }

    public let verdict: ProvenanceVerdict
    /// One check per attestation, in the response's order.
    public let checks: [Check]
    /// A failure of the whole response (malformed, no sha512 integrity), before any attestation.
    public let responseFailure: ProvenanceFailure?

    /// Every failure: the response's, then the attestations' in order. Empty unless `invalid`.
    public var failures: [ProvenanceFailure] {
        (responseFailure.map { [$0] } ?? []) + checks.compactMap(\.failure)
    }

    /// The first failure, for a log line or a record field.
    public var failure: ProvenanceFailure? { failures.first }

    public var description: String {
        failure.map { "\(verdict) (\($0))" } ?? verdict.rawValue
    }
}
