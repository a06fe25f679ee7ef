import CRdKafka
import Logging
import MirrorRuntime
import Synchronization

/// A member of a Kafka consumer group that commits only the offsets its caller says are done.
///
/// Auto-commit and automatic offset storing are off: nothing is marked consumed until
/// ``commit(processedThrough:)`` is called, so a crash never skips a message (at-least-once).
public final class KafkaConsumer: Sendable {
    /// How the consumer behaves.
    public struct Configuration: Sendable {
        public var client: KafkaClientConfiguration
        /// `group.id`: the consumer group to join.
        public var groupID: String
        /// `session.timeout.ms`: how long the group waits for a silent member before giving its
        /// partitions to others. Default 45 s (librdkafka's); tests use a few seconds so rejoins are quick.
        /// Every member of a group should use the same value.
        public var sessionTimeout: Duration = .seconds(45)
        /// `max.poll.interval.ms`: the longest gap allowed between two polls. Default 5 minutes.
        public var maxPollInterval: Duration = .seconds(300)
        /// `auto.offset.reset`: where to start when the group has no committed offset. Default `earliest`.
        public var autoOffsetReset: String = "earliest"

        public init(client: KafkaClientConfiguration, groupID: String) {
            self.client = client
            self.groupID = groupID
        }

        var properties: [String: String] {
            var properties: [String: String] = [
                "group.id": groupID,
                "enable.auto.commit": "false",
                "enable.auto.offset.store": "false",
                "allow.auto.create.topics": "false",
                "session.timeout.ms": String(sessionTimeout.milliseconds),
                "heartbeat.interval.ms": String(max(100, sessionTimeout.milliseconds / 3)),
                "max.poll.interval.ms": String(maxPollInterval.milliseconds),
                "auto.offset.reset": autoOffsetReset,
            ]
            properties.merge(client.properties) { _, clientValue in clientValue }
            return properties
        }
    }

    private let client: RDKafkaClient
    private let rebalance: RebalanceHandler
    private let isClosed = Atomic<Bool>(false)
    /// Held by a poll while it runs and by ``close()``: close waits for a poll in flight, and no
    /// poll starts after it.
    private let polling = Mutex<Void>(())
    /// How long ``close()`` answers the group's last rebalances before it closes: the session timeout.
    private let closeBound: Duration
    public let groupID: String

    public init(configuration: Configuration, logger: Logger) throws {
        let properties = configuration.properties
        let strategy = properties["partition.assignment.strategy"] ?? ""
        let rebalance = RebalanceHandler(cooperative: strategy.lowercased().contains("cooperative"))
        let context = RDKafkaClientContext(logger: logger, rebalanceHandler: rebalance)
        client = try RDKafkaClient(type: RD_KAFKA_CONSUMER, properties: properties, context: context) { conf in
            rd_kafka_conf_set_rebalance_cb(conf) { handle, err, partitions, opaque in
                guard let handle, let opaque else { return }
                let context = Unmanaged<RDKafkaClientContext>.fromOpaque(opaque).takeUnretainedValue()
                context.rebalanceHandler?.rebalance(handle: handle, err: err, partitions: partitions, logger: context.logger)
            }
        }
        client.withHandle { _ = rd_kafka_poll_set_consumer($0) }
        self.rebalance = rebalance
        self.groupID = configuration.groupID
        self.closeBound = configuration.sessionTimeout
    }

    /// Sets what runs inside a rebalance before revoked partitions are given up (see
    /// ``KafkaRevokeHandler``): the offsets it returns are committed synchronously first.
    public func setRevokeHandler(_ handler: KafkaRevokeHandler?) {
        rebalance.setRevokeHandler(handler)
    }

    /// Partition assignments and revocations, as they happen during ``poll(maxMessages:timeout:)``.
    public var rebalanceEvents: AsyncStream<KafkaRebalanceEvent> { rebalance.events }

    /// The partitions this member owns now.
    public var assignment: Set<KafkaTopicPartition> { rebalance.currentAssignment }
    /// Counts the rebalance callbacks so far: it changes whenever partitions were assigned or revoked,
    /// which happens inside ``poll(maxMessages:timeout:)``.
    public var assignmentGeneration: Int { rebalance.generation }

    /// Joins the group for `topics`.
    public func subscribe(topics: [String]) throws {
        let list = RDKafkaTopicPartitionList(topics: topics)
        let err = client.withHandle { rd_kafka_subscribe($0, list.pointer) }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError.fromResponse(err, code: .subscription, message: "could not subscribe to \(topics)", topic: topics.first, brokers: client.brokers)
        }
    }

    /// Waits up to `timeout` for messages and returns up to `maxMessages` of them (an empty array when
    /// none came). Group membership and rebalances are served while it waits.
    public func poll(maxMessages: Int = 500, timeout: Duration = .milliseconds(100)) async throws -> [KafkaConsumerMessage] {
        try checkOpen()
        return try await BlockingWork.run { [self] in
            try polling.withLock { _ in
                // Closed while this poll waited for its turn: close has left the group.
                guard !isClosed.load(ordering: .relaxed) else { return [] }
                var messages: [KafkaConsumerMessage] = []
                var wait = Int32(clamping: timeout.milliseconds)
                while messages.count < maxMessages {
                    guard let raw = client.withHandle({ rd_kafka_consumer_poll($0, wait) }) else { break }
                    defer { rd_kafka_message_destroy(raw) }
                    wait = 0
                    let message = raw.pointee
                    let topic = message.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
                    switch message.err {
                    case RD_KAFKA_RESP_ERR_NO_ERROR:
                        messages.append(
                            KafkaConsumerMessage(
                                topic: topic,
                                partition: message.partition,
                                offset: message.offset,
                                key: message.key.map { Array(UnsafeRawBufferPointer(start: $0, count: message.key_len)) },
                                value: message.payload.map { Array(UnsafeRawBufferPointer(start: $0, count: message.len)) } ?? [],
                                timestampMilliseconds: Self.timestamp(of: raw)
                            )
                        )
                    case RD_KAFKA_RESP_ERR__PARTITION_EOF:
                        continue
                    case RD_KAFKA_RESP_ERR__FATAL:
                        throw KafkaError.fromResponse(message.err, code: .consumption, message: "fatal consumer error", topic: topic, brokers: client.brokers)
                    default:
                        // librdkafka recovers from these by itself (a broker away, a leader moving).
                        client.logger.warning(
                            "Consumer error",
                            metadata: ["kafka.topic": "\(topic)", "kafka.error": "\(String(cString: rd_kafka_err2name(message.err)))"]
                        )
                    }
                }
                return messages
            }
        }
    }

    /// Commits, for each partition, the position just after the given offset: the caller says that
    /// every message up to and including `offset` is done. Synchronous: returns once the group
    /// coordinator has stored the offsets.
    ///
    /// Partitions this member no longer owns are left out, decided under the lock the revoke path
    /// holds while it commits and gives partitions up: an offset computed before a revoke never
    /// lands after it.
    public func commit(processedThrough positions: [KafkaTopicPartitionOffset]) async throws {
        try checkOpen()
        guard !positions.isEmpty else { return }
        let next = positions.map { KafkaTopicPartitionOffset(topic: $0.topicPartition.topic, partition: $0.topicPartition.partition, offset: $0.offset + 1) }
        try await BlockingWork.run { [client, rebalance] in
            let (sent, err) = client.withHandle { rebalance.commit(next, handle: $0) }
            if err != RD_KAFKA_RESP_ERR_NO_ERROR {
                throw KafkaError.fromResponse(
                    err,
                    code: .commitFailed,
                    message: "could not commit offsets \(sent.map { "\($0.topicPartition)@\($0.offset)" })",
                    topic: next.first?.topicPartition.topic,
                    brokers: client.brokers
                )
            }
        }
    }

    /// The group's committed positions (the offset of the next message to read) for `partitions`.
    /// Partitions with no committed offset are left out.
    public func committedOffsets(for partitions: [KafkaTopicPartition], timeout: Duration = .seconds(10)) async throws -> [KafkaTopicPartition: Int64] {
        try checkOpen()
        return try await BlockingWork.run { [client] in
            let list = RDKafkaTopicPartitionList(partitions: partitions)
            let err = client.withHandle { rd_kafka_committed($0, list.pointer, Int32(clamping: timeout.milliseconds)) }
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                throw KafkaError.fromResponse(err, code: .commitFailed, message: "could not read committed offsets", topic: partitions.first?.topic, brokers: client.brokers)
            }
            var result: [KafkaTopicPartition: Int64] = [:]
            for entry in list.entries where entry.offset.offset >= 0 {
                result[entry.offset.topicPartition] = entry.offset.offset
            }
            return result
        }
    }

    /// Stops fetching from `partitions` (polling goes on serving the group) until ``resume(_:)``.
    /// Consumption restarts after the last message returned by ``poll(maxMessages:timeout:)``.
    public func pause(_ partitions: [KafkaTopicPartition]) throws {
        try pauseOrResume(partitions, pause: true)
    }

    /// Fetches from `partitions` again.
    public func resume(_ partitions: [KafkaTopicPartition]) throws {
        try pauseOrResume(partitions, pause: false)
    }

    private func pauseOrResume(_ partitions: [KafkaTopicPartition], pause: Bool) throws {
        guard !partitions.isEmpty else { return }
        let list = RDKafkaTopicPartitionList(partitions: partitions)
        let err = client.withHandle { pause ? rd_kafka_pause_partitions($0, list.pointer) : rd_kafka_resume_partitions($0, list.pointer) }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError.fromResponse(err, code: .consumption, message: pause ? "could not pause partitions" : "could not resume partitions", topic: partitions.first?.topic, brokers: client.brokers)
        }
    }

    /// For each assigned partition, how many messages the group has not committed: from the committed
    /// offset (the partition's start when there is none) to its end (the high watermark).
    ///
    /// Not from this member's position (`rd_kafka_position`), which this gauge used before: on a
    /// backlog of 1.5 million changes it reported 216,467 after 13,055 were done.
    public func lag(timeout: Duration = .seconds(5)) async throws -> [KafkaTopicPartition: Int64] {
        try checkOpen()
        let assigned = Array(assignment)
        guard !assigned.isEmpty else { return [:] }
        let committed = try await committedOffsets(for: assigned, timeout: timeout)
        return try await BlockingWork.run { [client] in
            var result: [KafkaTopicPartition: Int64] = [:]
            for partition in assigned {
                var low: Int64 = 0
                var high: Int64 = 0
                let err = client.withHandle { rd_kafka_query_watermark_offsets($0, partition.topic, partition.partition, &low, &high, Int32(clamping: timeout.milliseconds)) }
                guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                    throw KafkaError.fromResponse(err, code: .watermarks, message: "could not read the watermarks of \(partition)", topic: partition.topic, brokers: client.brokers)
                }
                let start = committed[partition].flatMap { $0 >= 0 ? $0 : nil } ?? low
                result[partition] = max(0, high - max(low, start))
            }
            return result
        }
    }

    /// For every partition of `topic`, not only this member's: the group's committed position against
    /// the partition's watermarks, read from the brokers. Throws ``KafkaError/Code/topicNotFound``
    /// when the topic is missing.
    public func groupPositions(topic: String, timeout: Duration = .seconds(10)) async throws -> [KafkaGroupPosition] {
        try checkOpen()
        let partitions = try await BlockingWork.run { [client] in try client.partitions(of: topic, timeout: timeout) }
        guard let partitions else {
            throw KafkaError(code: .topicNotFound, message: "no such topic", topic: topic, brokers: client.brokers, isRetriable: true)
        }
        let all = partitions.map { KafkaTopicPartition(topic: topic, partition: $0.id) }
        let committed = try await committedOffsets(for: all, timeout: timeout)
        return try await BlockingWork.run { [client] in
            try all.map { partition in
                KafkaGroupPosition(
                    partition: partition,
                    committed: committed[partition],
                    watermarks: try client.watermarks(topic: topic, partition: partition.partition, timeout: timeout)
                )
            }
        }
    }

    /// Leaves the group (its partitions go to the other members at once) and stops consuming.
    ///
    /// In an order that cannot strand a rebalance callback: it waits for a poll in flight on another
    /// thread, unsubscribes, and keeps polling on this thread — answering the group's rebalances
    /// (a revoke commits what the revoke handler says is done) and dropping messages, which stay
    /// uncommitted — until nothing is assigned and three polls in a row were quiet, for at most the
    /// session timeout; only then `rd_kafka_consumer_close`. Closing with a rebalance still to come
    /// made librdkafka 2.0.2 serve it inside the close, whose terminating group state purges the
    /// assign request without an answer: `rd_kafka_assign` then waited forever (issue #23).
    public func close() async {
        guard !isClosed.exchange(true, ordering: .relaxed) else { return }
        let (err, drained) = await BlockingWork.run { [self] in
            polling.withLock { _ in
                client.withHandle { handle -> (rd_kafka_resp_err_t, Bool) in
                    let drained = Self.leaveGroup(handle, rebalance: rebalance, bound: closeBound)
                    return (rd_kafka_consumer_close(handle), drained)
                }
            }
        }
        if !drained {
            client.logger.warning("The group still had this member's partitions when the close's wait ended", metadata: ["wait": "\(closeBound)"])
        }
        if err != RD_KAFKA_RESP_ERR_NO_ERROR {
            client.logger.warning("Consumer closed with an error", metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(err)))"])
        }
        rebalance.finish()
    }

    /// Unsubscribes and polls until the assignment is empty and three polls in a row brought no
    /// message and no rebalance, or until `bound`. True when it got there.
    private static func leaveGroup(_ handle: OpaquePointer, rebalance: RebalanceHandler, bound: Duration) -> Bool {
        rd_kafka_unsubscribe(handle)
        let deadline = ContinuousClock.now + bound
        var quiet = 0
        while ContinuousClock.now < deadline {
            let seen = rebalance.generation
            let message = rd_kafka_consumer_poll(handle, 100)
            if let message { rd_kafka_message_destroy(message) }
            var assigned: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?
            var count: Int32 = 0
            if rd_kafka_assignment(handle, &assigned) == RD_KAFKA_RESP_ERR_NO_ERROR, let assigned {
                count = assigned.pointee.cnt
                rd_kafka_topic_partition_list_destroy(assigned)
            }
            quiet = message == nil && seen == rebalance.generation && count == 0 ? quiet + 1 : 0
            if quiet >= 3 { return true }
        }
        return false
    }

    private func checkOpen() throws {
        guard !isClosed.load(ordering: .relaxed) else {
            throw KafkaError(code: .shutdown, message: "the consumer was closed", brokers: client.brokers, isRetriable: false)
        }
    }

    private static func timestamp(of message: UnsafeMutablePointer<rd_kafka_message_t>) -> Int64? {
        var type = RD_KAFKA_TIMESTAMP_NOT_AVAILABLE
        let value = rd_kafka_message_timestamp(message, &type)
        return type == RD_KAFKA_TIMESTAMP_NOT_AVAILABLE ? nil : value
    }
}
