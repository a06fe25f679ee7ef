import Logging
import MirrorKafka
import MirrorTestSupport
import Testing

/// Logs warnings and worse from the code under test, to stderr.
let kafkaTestLogger = standardErrorLogger(label: "mirror-kafka-tests", level: .warning)

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
