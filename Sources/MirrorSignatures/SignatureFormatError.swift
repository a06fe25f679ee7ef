/// Input of this module that is not in the shape expected: a keys document, a key, a `dist.signatures`
/// array, an attestations response, an integrity string.
///
/// ``code`` is bounded (usable as a metric label or a record field); ``message`` says what was wrong
/// and where. A well-formed signature that does not verify is never this error: it is a verdict
/// (``SignatureVerdict/invalid``, ``ProvenanceVerdict/invalid``).
public struct SignatureFormatError: Error, CustomStringConvertible, Sendable, Hashable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let description: String

        /// The keys document is not JSON, or not `{"keys":[{…}]}` with the fields it needs.
        public static let malformedKeys = Code(description: "malformed_keys")
        /// A key's `keytype` or `scheme` is not `ecdsa-sha2-nistp256`.
        public static let unsupportedKeyType = Code(description: "unsupported_key_type")
        /// A key's `key` is not base64 of a DER SubjectPublicKeyInfo of a P-256 key.
        public static let invalidKey = Code(description: "invalid_key")
        /// Two keys with the same `keyid`.
        public static let duplicateKeyID = Code(description: "duplicate_keyid")
        /// A file could not be read.
        public static let unreadableFile = Code(description: "unreadable_file")
        /// A time is not ISO 8601 (`2025-01-29T00:00:00.000Z`).
        public static let malformedTime = Code(description: "malformed_time")
        /// `dist.signatures` is not an array of `{"keyid": string, "sig": string}`.
        public static let malformedSignatures = Code(description: "malformed_signatures")
        /// An attestations response is not `{"attestations":[{predicateType, bundle: {dsseEnvelope}}]}`.
        public static let malformedAttestations = Code(description: "malformed_attestations")
        /// An integrity string has no usable `sha512-<base64>` entry.
        public static let malformedIntegrity = Code(description: "malformed_integrity")
    }

    public let code: Code
    public let message: String

    public init(code: Code, message: String) {
        self.code = code
        self.message = message
    }

    public var description: String { "\(code): \(message)" }

    static func malformedKeys(_ message: String) -> Self { Self(code: .malformedKeys, message: message) }
    static func unsupportedKeyType(_ message: String) -> Self { Self(code: .unsupportedKeyType, message: message) }
    static func invalidKey(_ message: String) -> Self { Self(code: .invalidKey, message: message) }
    static func duplicateKeyID(_ keyid: String) -> Self {
        Self(code: .duplicateKeyID, message: "the key id \(keyid) appears more than once")
    }
    static func unreadableFile(_ path: String, _ reason: String) -> Self {
        Self(code: .unreadableFile, message: "cannot read \(path): \(reason)")
    }
    static func malformedTime(_ message: String) -> Self { Self(code: .malformedTime, message: message) }
    static func malformedSignatures(_ message: String) -> Self { Self(code: .malformedSignatures, message: message) }
    static func malformedAttestations(_ message: String) -> Self { Self(code: .malformedAttestations, message: message) }
    static func malformedIntegrity(_ message: String) -> Self { Self(code: .malformedIntegrity, message: message) }
}
