/// A configuration value that cannot be used, with where it came from.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The setting at fault, or nil for a problem with the file as a whole.
    public let setting: Setting?
    /// Where the bad value came from.
    public let source: ConfigurationSource
    /// What is wrong with it.
    public let problem: String

    public init(setting: Setting?, source: ConfigurationSource, problem: String) {
        self.setting = setting
        self.source = source
        self.problem = problem
    }

    public var description: String {
        guard let setting else { return "Bad configuration in \(source): \(problem)" }
        return "Bad configuration: \(source.name(of: setting)) (from \(source)): \(problem)"
    }
}

/// Where a configuration value came from.
public enum ConfigurationSource: Sendable, Hashable, CustomStringConvertible {
    case defaultValue
    case file(path: String)
    case environment
    case flag

    public var description: String {
        switch self {
        case .defaultValue: "the default"
        case .file(let path): "file \(path)"
        case .environment: "the environment"
        case .flag: "the command line"
        }
    }

    /// How the setting is spelled in this source.
    public func name(of setting: Setting) -> String {
        switch self {
        case .defaultValue: setting.environmentName
        case .file: "key \"\(setting.fileKey)\""
        case .environment: "variable \(setting.environmentName)"
        case .flag: "flag --\(setting.flagName)"
        }
    }
}
