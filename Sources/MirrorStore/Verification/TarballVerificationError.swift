/// Why a downloaded tarball was refused. ``reason`` is bounded (a metric label value);
/// ``message`` says what exactly was wrong, for the log.
public struct TarballVerificationError: Error, CustomStringConvertible, Sendable {
    /// A bounded reason code. New codes may be added: match with `==`, not exhaustively.
    public struct Reason: Hashable, Sendable, CustomStringConvertible {
        private let name: String
        private init(_ name: String) { self.name = name }

        /// The bytes do not match `dist.integrity` (or `dist.shasum` when there is no usable integrity).
        public static let integrityMismatch = Reason("integrityMismatch")
        /// Neither `dist.integrity` nor `dist.shasum` holds a digest this verifier supports.
        public static let noUsableDigest = Reason("noUsableDigest")
        /// The file does not start with the gzip magic bytes, or is compressed more than once.
        public static let notGzip = Reason("notGzip")
        /// gzip or tar could not be read: truncated, garbage, bad checksums.
        public static let corruptArchive = Reason("corruptArchive")
        /// An entry path has a `..` component.
        public static let pathTraversal = Reason("pathTraversal")
        /// An entry path is absolute (`/x`, `\x`, or `C:x`).
        public static let absolutePath = Reason("absolutePath")
        /// A symlink or hardlink target is absolute or leads out of the package folder.
        public static let linkEscapes = Reason("linkEscapes")
        /// A device, FIFO or socket entry.
        public static let unsupportedEntryType = Reason("unsupportedEntryType")
        /// The unpacked size (or the size of `package.json`) is over the configured limit.
        public static let tooLarge = Reason("tooLarge")
        /// More entries than the configured limit.
        public static let tooManyEntries = Reason("tooManyEntries")
        /// No `<top folder>/package.json`, or several top folders each with one and none named `package`.
        public static let missingPackageJSON = Reason("missingPackageJSON")
        /// `package.json` names another package or version than expected.
        public static let packageJSONMismatch = Reason("packageJSONMismatch")
        /// `package.json` is not a JSON object with string `name` and `version`.
        public static let malformedPackageJSON = Reason("malformedPackageJSON")
        /// The file could not be read.
        public static let ioError = Reason("ioError")

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
