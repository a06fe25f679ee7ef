import Logging
import MirrorKafka
import Synchronization
import Testing

/// Logs warnings and worse from the code under test, to stderr.
let testLogger: Logger = {
    var logger = Logger(label: "mirror-kafka-tests") { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = .warning
    return logger
}()

/// Consumer settings for tests: every member of a group uses the same short session timeout, so a
/// rejoin takes seconds rather than the default 45.
func testConsumerConfiguration(_ cluster: EmbeddedKafkaCluster, group: String) -> KafkaConsumer.Configuration {
    var configuration = KafkaConsumer.Configuration(client: KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers), groupID: group)
    configuration.sessionTimeout = .seconds(6)
    return configuration
}

func testProducerConfiguration(_ cluster: EmbeddedKafkaCluster) -> KafkaProducer.Configuration {
    var configuration = KafkaProducer.Configuration(client: KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers))
    configuration.client.reconnectBackoffMax = .milliseconds(500)
    return configuration
}

/// Polls until `count` messages have arrived or `timeout` passes; returns what arrived.
func consume(_ consumer: KafkaConsumer, count: Int, timeout: Duration = .seconds(60)) async throws -> [KafkaConsumerMessage] {
    var received: [KafkaConsumerMessage] = []
    let deadline = ContinuousClock.now + timeout
    while received.count < count, ContinuousClock.now < deadline {
        received += try await consumer.poll(maxMessages: count - received.count, timeout: .milliseconds(200))
    }
    return received
}

/// A topic name no other test uses.
func uniqueTopic(_ prefix: String = "test") -> String {
    "\(prefix)-\(UInt32.random(in: 0...UInt32.max))"
}

/// Keeps every log line (level, message and metadata) so a test can wait for one.
final class CapturedLogs: Sendable {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }

    func logger(label: String = "kafka-test") -> Logger {
        var logger = Logger(label: label, factory: { _ in Handler(sink: self) })
        logger.logLevel = .trace
        return logger
    }

    fileprivate func append(_ line: String) {
        lines.withLock { $0.append(line) }
    }

    private struct Handler: LogHandler {
        let sink: CapturedLogs
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace

        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let merged = metadata.merging(event.metadata ?? [:]) { $1 }
            sink.append("\(event.level) \(event.message) \(merged)")
        }
    }
}

/// Checks `condition` every 50 ms until it holds or `limit` passes; returns whether it held.
func eventually(within limit: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + limit
    while true {
        if try await condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(50))
    }
}
