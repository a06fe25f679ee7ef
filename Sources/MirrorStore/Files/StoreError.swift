#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A failure of the package store. Disk errors are classified into a small, bounded set of
/// ``Code``s (usable as a metric label); ``description`` carries the details.
///
/// Whatever the code, a failed store operation leaves no partial file under the store root:
/// temporary files are removed on the error path.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    /// A bounded classification of store failures.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Value: String, Sendable {
            case diskFull = "disk_full"
            case permissionDenied = "permission_denied"
            case readOnlyFileSystem = "read_only_file_system"
            case notFound = "not_found"
            case ioError = "io_error"
            case invalidName = "invalid_name"
            case invalidConfiguration = "invalid_configuration"
            case staleVerification = "stale_verification"
            case corruptStoredFile = "corrupt_stored_file"
        }

        private let value: Value
        private init(_ value: Value) { self.value = value }

        /// ENOSPC or EDQUOT: the file system or the quota is full.
        public static let diskFull = Code(.diskFull)
        /// EACCES or EPERM.
        public static let permissionDenied = Code(.permissionDenied)
        /// EROFS.
        public static let readOnlyFileSystem = Code(.readOnlyFileSystem)
        /// ENOENT where a file was expected (for example a scratch file that vanished).
        public static let notFound = Code(.notFound)
        /// Any other system call failure (EIO, ENAMETOOLONG, ...); the errno is in the message.
        public static let ioError = Code(.ioError)
        /// A package name, version or revision that cannot be stored (empty, or too long to encode).
        public static let invalidName = Code(.invalidName)
        /// The store was configured with invalid values.
        public static let invalidConfiguration = Code(.invalidConfiguration)
        /// A scratch file changed after it was verified, so it was not committed.
        public static let staleVerification = Code(.staleVerification)
        /// A stored file could not be read back (for example a packument that is not valid gzip).
        public static let corruptStoredFile = Code(.corruptStoredFile)

        public var description: String { value.rawValue }
    }

    /// The bounded classification.
    public let code: Code
    /// What was being done and on which path.
    public let message: String
    /// The errno of the failed system call, when there was one.
    public let errno: Int32?
    let file: String
    let line: Int

    init(code: Code, message: String, errno: Int32? = nil, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.errno = errno
        self.file = file
        self.line = line
    }

    /// The bounded code alone, suitable as a metric label value.
    public var shortDescription: String { code.description }

    /// Whether trying again later may succeed (a full disk may be freed; a bad name stays bad).
    public var isRetriable: Bool {
        code == .diskFull || code == .ioError || code == .notFound
    }

    public var description: String {
        var text = "StoreError.\(code): \(message)"
        if let errno { text += " (errno \(errno): \(String(cString: strerror(errno))))" }
        return text
    }

    static func invalidName(_ message: String, file: String = #fileID, line: Int = #line) -> StoreError {
        StoreError(code: .invalidName, message: message, file: file, line: line)
    }

    static func invalidConfiguration(_ message: String, file: String = #fileID, line: Int = #line) -> StoreError {
        StoreError(code: .invalidConfiguration, message: message, file: file, line: line)
    }

    static func staleVerification(_ message: String, file: String = #fileID, line: Int = #line) -> StoreError {
        StoreError(code: .staleVerification, message: message, file: file, line: line)
    }

    static func corruptStoredFile(_ message: String, file: String = #fileID, line: Int = #line) -> StoreError {
        StoreError(code: .corruptStoredFile, message: message, file: file, line: line)
    }

    /// Classifies a failed system call by its errno.
    static func system(
        _ operation: String,
        path: String,
        errno code: Int32,
        file: String = #fileID,
        line: Int = #line
    ) -> StoreError {
        let classified: Code
        switch code {
        case ENOSPC, EDQUOT: classified = .diskFull
        case EACCES, EPERM: classified = .permissionDenied
        case EROFS: classified = .readOnlyFileSystem
        case ENOENT: classified = .notFound
        default: classified = .ioError
        }
        return StoreError(code: classified, message: "\(operation) \(path)", errno: code, file: file, line: line)
    }
}
