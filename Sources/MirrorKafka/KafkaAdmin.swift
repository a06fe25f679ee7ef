import CRdKafka
import Logging
import MirrorRuntime

/// Topic management and read-only inspection: create topics, list partitions, read watermarks and
/// the last message of every partition.
public final class KafkaAdmin: Sendable {
    /// What ``ensureTopic(_:partitions:replicationFactor:timeout:)`` found or did.
    public enum TopicCreation: Sendable, Hashable {
        /// The topic was created with the requested partition count.
        case created
        /// The topic was already there, with this many partitions (which may differ from the request).
        case alreadyExists(partitionCount: Int)
    }

    /// One partition as the cluster's metadata describes it.
    public struct PartitionMetadata: Sendable, Hashable {
        public var id: Int32
        /// The broker id leading the partition, or -1 when it has no leader now.
        public var leader: Int32
    }

    private let client: RDKafkaClient
    private let configuration: KafkaClientConfiguration

    public init(configuration: KafkaClientConfiguration, logger: Logger) throws {
        self.configuration = configuration
        client = try RDKafkaClient(type: RD_KAFKA_PRODUCER, properties: configuration.properties, context: RDKafkaClientContext(logger: logger))
    }

    /// Creates `topic` with `partitions` partitions unless it exists.
    ///
    /// An existing topic is reported, not an error. A cluster that does not answer the CreateTopics
    /// request within `timeout` (librdkafka's mock cluster never does) gets a ``KafkaError/Code/timedOut``.
    /// `replicationFactor` -1 takes the broker's default; `configs` are topic configs set at creation
    /// (`retention.ms`, …), left alone on an existing topic.
    public func ensureTopic(
        _ topic: String,
        partitions: Int,
        replicationFactor: Int = -1,
        configs: [String: String] = [:],
        timeout: Duration = .seconds(30)
    ) async throws -> TopicCreation {
        if let existing = try await self.partitions(of: topic, timeout: timeout) {
            return .alreadyExists(partitionCount: existing.count)
        }
        let outcome = try await BlockingWork.run { [client] in
            try Self.createTopic(client: client, topic: topic, partitions: partitions, replicationFactor: replicationFactor, configs: configs, timeout: timeout)
        }
        // Someone else created it between our look and our request: report what is there.
        if case .alreadyExists = outcome, let existing = try await self.partitions(of: topic, timeout: timeout) {
            return .alreadyExists(partitionCount: existing.count)
        }
        return outcome
    }

    /// The partitions of `topic`, or nil when the cluster has no such topic.
    ///
    /// It asks for the metadata of all topics, which never makes a broker auto-create the topic.
    public func partitions(of topic: String, timeout: Duration = .seconds(10)) async throws -> [PartitionMetadata]? {
        try await BlockingWork.run { [client] in try client.partitions(of: topic, timeout: timeout) }
    }

    /// The low and high watermarks of one partition, asked of its leader.
    public func watermarks(topic: String, partition: Int32, timeout: Duration = .seconds(10)) async throws -> KafkaWatermarks {
        try await BlockingWork.run { [client] in try client.watermarks(topic: topic, partition: partition, timeout: timeout) }
    }

    /// The watermarks of every partition of `topic`; throws ``KafkaError/Code/topicNotFound`` when it is missing.
    public func watermarks(topic: String, timeout: Duration = .seconds(10)) async throws -> [Int32: KafkaWatermarks] {
        guard let partitions = try await partitions(of: topic, timeout: timeout) else {
            throw KafkaError(code: .topicNotFound, message: "no such topic", topic: topic, brokers: client.brokers, isRetriable: false)
        }
        var result: [Int32: KafkaWatermarks] = [:]
        for partition in partitions {
            result[partition.id] = try await watermarks(topic: topic, partition: partition.id, timeout: timeout)
        }
        return result
    }

    /// The last message of every non-empty partition of `topic`, keyed by partition.
    /// Empty partitions are absent; a missing topic gives an empty result.
    public func lastMessages(topic: String, timeout: Duration = .seconds(30)) async throws -> [Int32: KafkaConsumerMessage] {
        guard let partitions = try await partitions(of: topic, timeout: timeout) else { return [:] }
        var starts: [KafkaTopicPartitionOffset] = []
        for partition in partitions {
            let marks = try await watermarks(topic: topic, partition: partition.id, timeout: timeout)
            // A few messages back rather than exactly one, in case the last offsets hold no data
            // (transaction markers).
            if marks.high > marks.low {
                starts.append(KafkaTopicPartitionOffset(topic: topic, partition: partition.id, offset: max(marks.low, marks.high - Self.tailWindow)))
            }
        }
        guard !starts.isEmpty else { return [:] }
        return try await readTails(starts, timeout: timeout)
    }

    /// How many messages back from the end ``lastMessages(topic:timeout:)`` starts reading.
    static let tailWindow: Int64 = 8

    private func readTails(_ starts: [KafkaTopicPartitionOffset], timeout: Duration) async throws -> [Int32: KafkaConsumerMessage] {
        var properties = configuration.properties
        properties["group.id"] = "npm-mirror-tail-reader"  // assign() only: the group is never joined or committed to
        properties["enable.partition.eof"] = "true"
        properties["enable.auto.commit"] = "false"
        properties["allow.auto.create.topics"] = "false"
        let reader = try RDKafkaClient(type: RD_KAFKA_CONSUMER, properties: properties, context: client.context)
        let brokers = client.brokers
        return try await BlockingWork.run {
            try reader.withHandle { handle in
                rd_kafka_poll_set_consumer(handle)
                let list = RDKafkaTopicPartitionList(starts)
                let err = rd_kafka_assign(handle, list.pointer)
                guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    throw KafkaError.fromResponse(err, code: .consumption, message: "could not assign partitions to read their tails", topic: starts.first?.topicPartition.topic, brokers: brokers)
                }
                var pending = Set(starts.map(\.topicPartition.partition))
                var last: [Int32: KafkaConsumerMessage] = [:]
                let deadline = ContinuousClock.now + timeout
                while !pending.isEmpty {
                    guard ContinuousClock.now < deadline else {
                        throw KafkaError(code: .timedOut, message: "partitions \(pending.sorted()) did not reach their end in time", topic: starts.first?.topicPartition.topic, brokers: brokers, isRetriable: true)
                    }
                    guard let raw = rd_kafka_consumer_poll(handle, 100) else { continue }
                    defer { rd_kafka_message_destroy(raw) }
                    let message = raw.pointee
                    switch message.err {
                    case RD_KAFKA_RESP_ERR_NO_ERROR:
                        last[message.partition] = KafkaConsumerMessage(
                            topic: message.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? "",
                            partition: message.partition,
                            offset: message.offset,
                            key: message.key.map { Array(UnsafeRawBufferPointer(start: $0, count: message.key_len)) },
                            value: message.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: message.len)) } ?? [],
                            timestampMilliseconds: nil
                        )
                    case RD_KAFKA_RESP_ERR__PARTITION_EOF:
                        pending.remove(message.partition)
                    default:
                        reader.logger.debug("Tail read error", metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(message.err)))"])
                    }
                }
                rd_kafka_consumer_close(handle)
                return last
            }
        }
    }

    private static func createTopic(
        client: RDKafkaClient,
        topic: String,
        partitions: Int,
        replicationFactor: Int,
        configs: [String: String],
        timeout: Duration
    ) throws -> TopicCreation {
        try client.withHandle { handle in
            var errorText = [CChar](repeating: 0, count: 512)
            guard let newTopic = rd_kafka_NewTopic_new(topic, Int32(clamping: partitions), Int32(clamping: replicationFactor), &errorText, errorText.count) else {
                throw KafkaError(code: .topicCreation, message: "invalid topic request: \(MirrorKafka.errorText(errorText))", topic: topic, brokers: client.brokers, isRetriable: false)
            }
            defer { rd_kafka_NewTopic_destroy(newTopic) }
            for (name, value) in configs.sorted(by: { $0.key < $1.key }) where rd_kafka_NewTopic_set_config(newTopic, name, value) != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw KafkaError(code: .topicCreation, message: "invalid topic config \(name)=\(value)", topic: topic, brokers: client.brokers, isRetriable: false)
            }
            let options = rd_kafka_AdminOptions_new(handle, RD_KAFKA_ADMIN_OP_CREATETOPICS)
            defer { rd_kafka_AdminOptions_destroy(options) }
            let milliseconds = Int32(clamping: timeout.milliseconds)
            _ = rd_kafka_AdminOptions_set_request_timeout(options, milliseconds, &errorText, errorText.count)
            _ = rd_kafka_AdminOptions_set_operation_timeout(options, milliseconds, &errorText, errorText.count)
            let queue = rd_kafka_queue_new(handle)
            defer { rd_kafka_queue_destroy(queue) }
            var topics: [OpaquePointer?] = [newTopic]
            rd_kafka_CreateTopics(handle, &topics, 1, options, queue)
            // librdkafka times the request out itself; the extra second only guards against a lost event.
            guard let event = rd_kafka_queue_poll(queue, milliseconds + 1000) else {
                throw KafkaError(code: .timedOut, message: "the cluster did not answer CreateTopics within \(timeout)", topic: topic, brokers: client.brokers, isRetriable: true)
            }
            defer { rd_kafka_event_destroy(event) }
            let requestError = rd_kafka_event_error(event)
            guard requestError == RD_KAFKA_RESP_ERR_NO_ERROR else {
                let detail = rd_kafka_event_error_string(event).map { String(cString: $0) } ?? ""
                throw KafkaError.fromResponse(requestError, code: .topicCreation, message: "CreateTopics failed (\(detail))", topic: topic, brokers: client.brokers)
            }
            var count = 0
            guard let result = rd_kafka_event_CreateTopics_result(event), let results = rd_kafka_CreateTopics_result_topics(result, &count), count == 1,
                let topicResult = results[0]
            else {
                throw KafkaError(code: .topicCreation, message: "CreateTopics answered without a result for the topic", topic: topic, brokers: client.brokers, isRetriable: true)
            }
            switch rd_kafka_topic_result_error(topicResult) {
            case RD_KAFKA_RESP_ERR_NO_ERROR:
                return .created
            case RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS:
                return .alreadyExists(partitionCount: -1)
            case let err:
                let detail = rd_kafka_topic_result_error_string(topicResult).map { String(cString: $0) } ?? ""
                throw KafkaError.fromResponse(err, code: .topicCreation, message: "the cluster refused to create the topic (\(detail))", topic: topic, brokers: client.brokers)
            }
        }
    }
}
