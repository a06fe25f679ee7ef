import Logging
import Synchronization

/// A logger to standard error at `level`.
package func standardErrorLogger(label: String, level: Logger.Level) -> Logger {
    var logger = Logger(label: label) { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = level
    return logger
}

/// Errors from the code under test, to standard error.
package let testLogger = standardErrorLogger(label: "mirror-tests", level: .error)

/// Keeps every log line (level, message and metadata) so a test can search them or wait for one.
package final class CapturedLogs: Sendable {
    private let lines = Mutex<[String]>([])

    package init() {}

    package var all: [String] { self.lines.withLock { $0 } }

    package func logger(label: String = "captured") -> Logger {
        var logger = Logger(label: label, factory: { _ in Handler(sink: self) })
        logger.logLevel = .trace
        return logger
    }

    fileprivate func append(_ line: String) {
        self.lines.withLock { $0.append(line) }
    }

    private struct Handler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { self.metadata[key] }
            set { self.metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = self.metadata.merging(event.metadata ?? [:]) { $1 }
            self.sink.append("\(event.level) \(event.message) \(merged)")
        }
    }
}
