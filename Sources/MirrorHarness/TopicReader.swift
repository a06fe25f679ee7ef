import Foundation
import Logging
import MirrorKafka

/// Reads whole topics back, for checking what a run left in Kafka.
public enum TopicReader {
    /// Every message of `topic` (as many as its watermarks say it holds), read by a fresh group.
    public static func readAll(_ topic: String, bootstrapServers: String, timeout: Duration = .seconds(60), logger: Logger) async throws -> [KafkaConsumerMessage] {
        let client = KafkaClientConfiguration(bootstrapServers: bootstrapServers)
        let admin = try KafkaAdmin(configuration: client, logger: logger)
        let total = try await admin.watermarks(topic: topic).values.reduce(0) { $0 + Int($1.high - $1.low) }
        guard total > 0 else { return [] }
        var configuration = KafkaConsumer.Configuration(client: client, groupID: "reader-\(UUID().uuidString)")
        configuration.sessionTimeout = .seconds(6)
        let consumer = try KafkaConsumer(configuration: configuration, logger: logger)
        try consumer.subscribe(topics: [topic])
        var received: [KafkaConsumerMessage] = []
        let deadline = ContinuousClock.now + timeout
        while received.count < total, ContinuousClock.now < deadline {
            received += try await consumer.poll(maxMessages: 1000, timeout: .milliseconds(200))
        }
        await consumer.close()
        return received
    }

    /// The offsets `group` has committed on `topic`, by partition (partitions without one are absent).
    public static func committed(_ topic: String, group: String, bootstrapServers: String, logger: Logger) async throws -> [Int32: Int64] {
        let client = KafkaClientConfiguration(bootstrapServers: bootstrapServers)
        let partitions = try await KafkaAdmin(configuration: client, logger: logger).partitions(of: topic) ?? []
        let consumer = try KafkaConsumer(configuration: KafkaConsumer.Configuration(client: client, groupID: group), logger: logger)
        let committed = try await consumer.committedOffsets(for: partitions.map { KafkaTopicPartition(topic: topic, partition: $0.id) })
        await consumer.close()
        return Dictionary(uniqueKeysWithValues: committed.map { ($0.key.partition, $0.value) })
    }

    /// The partitions of `topic` that `group` has not committed to their end, with their committed
    /// and high offsets (empty: everything committed).
    public static func uncommitted(_ topic: String, group: String, bootstrapServers: String, logger: Logger) async throws -> [(partition: Int32, committed: Int64, high: Int64)] {
        let consumer = try KafkaConsumer(configuration: KafkaConsumer.Configuration(client: KafkaClientConfiguration(bootstrapServers: bootstrapServers), groupID: group), logger: logger)
        let positions = try await consumer.groupPositions(topic: topic)
        await consumer.close()
        return positions.filter { !$0.isDrained }.map { ($0.partition.partition, $0.committed ?? -1, $0.watermarks.high) }
    }
}
