/// Why a downloaded tarball was refused. ``reason`` is bounded (a metric label value);
/// ``message`` says what exactly was wrong, for the log.
public struct TarballVerificationError: Error, CustomStringConvertible, Sendable {
    /// A bounded reason code. New codes may be added: match with `==`, not exhaustively.
    public struct Reason: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The bytes do not match `dist.integrity` (or `dist.shasum` when there is no usable integrity).
        public static let integrityMismatch = Reason("integrity_mismatch")
        /// Neither `dist.integrity` nor `dist.shasum` holds a digest this verifier supports.
        public static let noUsableDigest = Reason("no_usable_digest")
        /// The file does not start with the gzip magic bytes, or is compressed more than once.
        public static let notGzip = Reason("not_gzip")
        /// gzip or tar could not be read: truncated, garbage, bad checksums.
        public static let corruptArchive = Reason("corrupt_archive")
        /// An entry path has a `..` component.
        public static let pathTraversal = Reason("path_traversal")
        /// An entry path is absolute (`/x`, `\x`, or `C:x`).
        public static let absolutePath = Reason("absolute_path")
        /// A symlink or hardlink target is absolute or leads out of the package folder.
        public static let linkEscapes = Reason("link_escapes")
        /// A device, FIFO or socket entry.
        public static let unsupportedEntryType = Reason("unsupported_entry_type")
        /// The unpacked size (or the size of `package.json`) is over the configured limit.
        public static let tooLarge = Reason("too_large")
        /// More entries than the configured limit.
        public static let tooManyEntries = Reason("too_many_entries")
        /// No `<top folder>/package.json`, or several top folders each with one and none named `package`.
        public static let missingPackageJSON = Reason("missing_package_json")
        /// `package.json` names another package or version than expected.
        public static let packageJSONMismatch = Reason("package_json_mismatch")
        /// `package.json` is not a JSON object with string `name` and `version`.
        public static let malformedPackageJSON = Reason("malformed_package_json")
        /// The file could not be read.
        public static let ioError = Reason("io_error")

        public var description: String { name }
    }

    public let reason: Reason
    public let message: String

    public init(_ reason: Reason, _ message: String) {
        self.reason = reason
        self.message = message
    }

    /// The reason alone, suitable as a metric label value.
    public var shortDescription: String { reason.description }

    public var description: String { "TarballVerificationError.\(reason): \(message)" }
}
