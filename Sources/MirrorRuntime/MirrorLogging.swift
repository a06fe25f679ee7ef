import Logging

/// Process-wide logging set-up for the executables.
public enum MirrorLogging {
    /// Sends logs to stderr at `level` and returns the process's logger.
    public static func bootstrap(label: String, level: String) -> Logger {
        let level = Logger.Level(rawValue: level) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        var logger = Logger(label: label)
        logger.logLevel = level
        return logger
    }
}
