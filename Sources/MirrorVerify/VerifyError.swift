/// Why a verification could not be run at all (as opposed to a verification that found failures):
/// no store, an unusable keys file, a packument file that is missing or not a packument.
/// ``code`` is bounded; ``message`` names the file and what is wrong with it.
public struct VerifyError: Error, CustomStringConvertible, Sendable, Hashable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let description: String

        /// `REMOTE_PACKAGE_DIR` is not a folder.
        public static let noStore = Code(description: "no_store")
        /// The keys file (`NPM_SIGNING_KEYS`) cannot be read or is not a keys document.
        public static let keys = Code(description: "keys")
        /// The file cannot be read (missing, a folder, no permission).
        public static let unreadableFile = Code(description: "unreadable_file")
        /// The file is not a packument: not JSON, no `name`, no `versions` object.
        public static let malformedPackument = Code(description: "malformed_packument")
        /// The record store is configured but cannot be opened.
        public static let records = Code(description: "records")
    }

    public let code: Code
    public let message: String
    public let file: String
    public let line: Int

    init(_ code: Code, _ message: String, file: String = #fileID, line: Int = #line) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    public var description: String { message }

    public static func == (lhs: VerifyError, rhs: VerifyError) -> Bool { lhs.code == rhs.code && lhs.message == rhs.message }
    public func hash(into hasher: inout Hasher) {
        hasher.combine(code)
        hasher.combine(message)
    }
}
