import ArgumentParser
import Foundation
import Logging

/// The set-up the benchmark and the reliability suite share: their own log lines only, the pipeline
/// binaries found and checked, a fresh scratch folder with an empty configuration file in it.
public enum HarnessRun {
    public struct SetupError: Error, CustomStringConvertible {
        public var description: String
    }

    /// Logs of `label` at notice and above; everything else (the libraries in this process) at `others`.
    public static func bootstrapLogging(label: String, others: Logger.Level) -> Logger {
        LoggingSystem.bootstrap { name in
            var handler = StreamLogHandler.standardError(label: name)
            handler.logLevel = name == label ? .notice : others
            return handler
        }
        return Logger(label: label)
    }

    /// The folder of `changes-producer` and `changes-consumer`: `given`, or the running program's
    /// own folder. Throws, naming `buildScript`, when either is missing.
    public static func pipelineBinaries(_ given: String?, buildScript: String) throws -> String {
        let folder = given ?? URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().path
        for binary in ["changes-producer", "changes-consumer"] where !FileManager.default.isExecutableFile(atPath: "\(folder)/\(binary)") {
            throw SetupError(description: "\(folder)/\(binary) is missing: build it first (\(buildScript) does)")
        }
        return folder
    }

    /// Empties (or creates) `path` and returns it as an absolute path.
    public static func freshDirectory(_ path: String) throws -> String {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        try? FileManager.default.removeItem(atPath: absolute)
        try FileManager.default.createDirectory(atPath: absolute, withIntermediateDirectories: true)
        return absolute
    }

    /// Writes `{}` to `folder/config.json` and returns its path: a `CONFIG_FILE` for the pipeline's
    /// processes, so no `config.json` of the working directory changes a run.
    public static func emptyConfigFile(in folder: String) throws -> String {
        let path = "\(folder)/config.json"
        try "{}".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

/// The options every harness command (`npm-mirror-bench`, `npm-mirror-chaos`) takes.
public struct HarnessOptions: ParsableArguments {
    @Option(help: "Folder of the changes-producer and changes-consumer binaries (default: this program's folder).")
    public var binaries: String?

    @Option(help: "Scratch folder of the run, emptied first (default: ./bench-work or ./chaos-work).")
    public var workDirectory: String?

    @Flag(help: "Keep the scratch folder (stores, logs, metrics files) after the run.")
    public var keepWork = false

    public init() {}
}
