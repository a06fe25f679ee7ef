/// Why the registry server could not start or could not read what it serves. The short
/// description is a bounded code, usable as a metric label or log key.
public struct ServeError: Error, CustomStringConvertible, Sendable {
    private enum Code: String, Sendable {
        case invalidConfiguration = "invalid_configuration"
        case packumentGone = "packument_gone"
        case corruptPackument = "corrupt_packument"
        case unreadableFile = "unreadable_file"
    }

    private let code: Code
    /// What happened, for people.
    public let message: String
    let file: String
    let line: Int

    private init(_ code: Code, _ message: String, file: String, line: Int) {
        self.code = code
        self.message = message
        self.file = file
        self.line = line
    }

    static func invalidConfiguration(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.invalidConfiguration, message, file: file, line: line)
    }

    /// The packument revision a derivation was to read was replaced meanwhile.
    static func packumentGone(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.packumentGone, message, file: file, line: line)
    }

    static func corruptPackument(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.corruptPackument, message, file: file, line: line)
    }

    static func unreadableFile(_ message: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.unreadableFile, message, file: file, line: line)
    }

    var isPackumentGone: Bool { code == .packumentGone }

    public var shortDescription: String { code.rawValue }

    public var description: String { "\(code.rawValue): \(message) (\(file):\(line))" }
}
