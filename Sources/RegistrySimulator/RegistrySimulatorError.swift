/// Errors the simulator reports: bad configuration, bad fault specs, unreadable directories.
public struct RegistrySimulatorError: Error, CustomStringConvertible, Sendable {
    private enum Code: String, Sendable {
        case invalidConfiguration = "invalid configuration"
        case invalidFault = "invalid fault"
        case invalidDirectory = "invalid registry directory"
        case startFailed = "start failed"
    }

    private let code: Code
    /// What went wrong, for people.
    public let reason: String
    public let file: String
    public let line: Int

    private init(_ code: Code, _ reason: String, file: String, line: Int) {
        self.code = code
        self.reason = reason
        self.file = file
        self.line = line
    }

    public static func invalidConfiguration(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.invalidConfiguration, reason, file: file, line: line)
    }

    public static func invalidFault(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.invalidFault, reason, file: file, line: line)
    }

    public static func invalidDirectory(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.invalidDirectory, reason, file: file, line: line)
    }

    public static func startFailed(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(.startFailed, reason, file: file, line: line)
    }

    /// A short, bounded label (usable as a metric label value).
    public var shortDescription: String { self.code.rawValue }

    public var description: String { "\(self.code.rawValue): \(self.reason)" }

    /// None of these go away by retrying.
    public var isRetriable: Bool { false }
}
