import MirrorJSON

/// One thing in the store that does not hold: a bounded ``kind``, the package, version and file it
/// concerns, and a message saying what was found.
public struct VerificationFailure: Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, as a bounded snake_case code (usable as a metric label or for grouping).
    /// New kinds may be added: match with `==`, not exhaustively.
    public struct Kind: Sendable, Hashable, Comparable, CustomStringConvertible {
        public let description: String
        private init(_ description: String) { self.description = description }

        /// A stored tarball's digest differs from `dist.integrity` (or `dist.shasum`) in the stored packument.
        public static let integrityMismatch = Kind("integrity_mismatch")
        /// The packument's `dist` for a stored tarball's version has no digest this mirror can check.
        public static let noUsableDigest = Kind("no_usable_digest")
        /// A kept version's `dist` in the packument is unusable (no dist, not an object, no digest).
        public static let malformedVersion = Kind("malformed_version")
        /// A stored tarball whose version is not in the stored packument.
        public static let unexplainedTarball = Kind("unexplained_tarball")
        /// A stored attestations file whose version is not kept (no tarball, or not in the packument).
        public static let unexplainedAttestations = Kind("unexplained_attestations")
        /// A file or folder no packument or record explains.
        public static let unexplainedFile = Kind("unexplained_file")
        /// A `.tmp-` file or folder: an interrupted write, or one in progress while verifying.
        public static let temporaryFile = Kind("temporary_file")
        /// A package folder without `packument.json.gz`.
        public static let missingPackument = Kind("missing_packument")
        /// The stored packument does not gunzip, is not JSON, or is not this package's packument.
        public static let corruptPackument = Kind("corrupt_packument")
        /// A package folder in the shard folder of another name.
        public static let misplacedPackage = Kind("misplaced_package")
        /// A kept version's registry signature has no signatures (`dist.signatures` absent or empty).
        public static let signatureMissing = Kind("signature_missing")
        /// A kept version's signatures name only keys that are not trusted.
        public static let signatureUnknownKey = Kind("signature_unknown_key")
        /// A kept version's only genuine signature is by a key that had expired when it was published.
        public static let signatureExpiredKey = Kind("signature_expired_key")
        /// A kept version's signature does not verify, or `dist.signatures` is malformed.
        public static let signatureInvalid = Kind("signature_invalid")
        /// A stored attestations file does not gunzip or cannot be read.
        public static let corruptAttestations = Kind("corrupt_attestations")
        /// A stored attestations response does not verify (``MirrorSignatures/ProvenanceVerdict/invalid``).
        public static let provenanceInvalid = Kind("provenance_invalid")
        /// A package record's `stored_versions` entry names a file that does not exist.
        public static let recordMissingFile = Kind("record_missing_file")
        /// A package record's `stored_versions` entry has no `path` string.
        public static let malformedRecord = Kind("malformed_record")
        /// The record store is configured but could not be read.
        public static let recordsUnavailable = Kind("records_unavailable")
        /// A file could not be read (permissions, I/O error).
        public static let ioError = Kind("io_error")

        /// The failure kind of a signature verdict other than `verified` (nil for `verified`).
        public static func signature(_ verdict: String) -> Kind? {
            switch verdict {
            case "missing": .signatureMissing
            case "unknown_key": .signatureUnknownKey
            case "expired_key": .signatureExpiredKey
            case "invalid": .signatureInvalid
            default: nil
            }
        }

        public static func < (lhs: Kind, rhs: Kind) -> Bool { lhs.description < rhs.description }
    }

    public var kind: Kind
    /// The package concerned, when known (nil for a stray file at the root or in a shard folder).
    public var package: String?
    public var version: String?
    /// The file or folder concerned, relative to the store root.
    public var path: String
    public var message: String

    public init(kind: Kind, package: String?, version: String?, path: String, message: String) {
        self.kind = kind
        self.package = package
        self.version = version
        self.path = path
        self.message = message
    }

    public var description: String {
        let subject = package.map { name in version.map { "\(name)@\($0)" } ?? name }
        return "\(kind): " + (subject.map { "\($0): " } ?? "") + message + " (\(path))"
    }

    public var json: JSONValue {
        [
            "kind": .string(kind.description),
            "package": package.map(JSONValue.string) ?? .null,
            "version": version.map(JSONValue.string) ?? .null,
            "path": .string(path),
            "message": .string(message),
        ]
    }
}
