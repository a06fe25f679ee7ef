import CRdKafka
import Dispatch
import Logging
import MirrorRuntime
import Synchronization

/// Owns one `rd_kafka_t`.
///
/// librdkafka documents `rd_kafka_t` as safe to use from any thread, so this box over the handle is
/// `@unchecked Sendable`; it holds nothing mutable of its own. Reach the handle only through
/// ``withHandle(_:)`` and do not let the pointer escape the closure.
final class RDKafkaClient: @unchecked Sendable {
    private let handle: OpaquePointer
    /// Kept alive for the C callbacks, which find it through the configuration's opaque.
    let context: RDKafkaClientContext
    /// The bootstrap list, for error messages.
    let brokers: String

    /// Creates a client of `type` with `properties`. On failure nothing is leaked.
    /// `configure` may add callbacks to the configuration before the client is made.
    init(
        type: rd_kafka_type_t,
        properties: [String: String],
        context: RDKafkaClientContext,
        configure: (OpaquePointer) -> Void = { _ in }
    ) throws {
        let conf = try RDKafkaConfig.make(properties: properties, context: context)
        configure(conf)
        var errorText = [CChar](repeating: 0, count: 512)
        guard let handle = rd_kafka_new(type, conf, &errorText, errorText.count) else {
            // rd_kafka_new takes ownership of the configuration only when it succeeds.
            rd_kafka_conf_destroy(conf)
            let reason = MirrorKafka.errorText(errorText)
            throw KafkaError(
                code: .clientCreation,
                message: "could not create the Kafka client: \(reason)",
                brokers: properties["bootstrap.servers"],
                isRetriable: false
            )
        }
        self.handle = handle
        self.context = context
        self.brokers = properties["bootstrap.servers"] ?? ""
    }

    deinit {
        rd_kafka_destroy(handle)
    }

    /// Runs `body` with the raw handle. The pointer must not escape `body`.
    func withHandle<T>(_ body: (OpaquePointer) throws -> T) rethrows -> T {
        try body(handle)
    }

    var logger: Logger { context.logger }
}

/// Calls `rd_kafka_poll` on a thread of its own until stopped, so delivery reports and client
/// errors are served without a Swift task blocking.
final class RDKafkaPollLoop: Sendable {
    private let stopRequested = Atomic<Bool>(false)
    private let finished = DispatchSemaphore(value: 0)

    init(client: RDKafkaClient) {
        let thread = DispatchQueue(label: "npm-mirror.kafka.poll")
        thread.async { [self] in
            while !stopRequested.load(ordering: .relaxed) {
                client.withHandle { _ = rd_kafka_poll($0, 100) }
            }
            finished.signal()
        }
    }

    /// Asks the loop to stop without waiting for it.
    func requestStop() {
        stopRequested.store(true, ordering: .relaxed)
    }

    /// Stops the loop and waits for it: at most one poll interval (100 ms). Call it once.
    func stop() async {
        requestStop()
        await BlockingWork.run { [finished] in finished.wait() }
    }
}

// MARK: Metadata and watermarks (blocking: call from BlockingWork)

extension RDKafkaClient {
    /// The partitions of `topic`, or nil when the cluster has no such topic.
    ///
    /// It asks for the metadata of all topics, which never makes a broker auto-create the topic.
    func partitions(of topic: String, timeout: Duration) throws -> [KafkaAdmin.PartitionMetadata]? {
        try withHandle { handle in
            var metadata: UnsafePointer<rd_kafka_metadata>?
            let err = rd_kafka_metadata(handle, 1, nil, &metadata, Int32(clamping: timeout.milliseconds))
            guard err == RD_KAFKA_RESP_ERR_NO_ERROR, let metadata else {
                throw KafkaError.fromResponse(err, code: .metadata, message: "could not read the cluster's metadata", topic: topic, brokers: brokers)
            }
            defer { rd_kafka_metadata_destroy(metadata) }
            let topics = UnsafeBufferPointer(start: metadata.pointee.topics, count: Int(metadata.pointee.topic_cnt))
            guard let entry = topics.first(where: { String(cString: $0.topic) == topic }), entry.err == RD_KAFKA_RESP_ERR_NO_ERROR else {
                return nil
            }
            return UnsafeBufferPointer(start: entry.partitions, count: Int(entry.partition_cnt))
                .map { KafkaAdmin.PartitionMetadata(id: $0.id, leader: $0.leader) }
                .sorted { $0.id < $1.id }
        }
    }

    /// The low and high watermarks of one partition, asked of its leader.
    func watermarks(topic: String, partition: Int32, timeout: Duration) throws -> KafkaWatermarks {
        var low: Int64 = 0
        var high: Int64 = 0
        let err = withHandle { rd_kafka_query_watermark_offsets($0, topic, partition, &low, &high, Int32(clamping: timeout.milliseconds)) }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError.fromResponse(err, code: .watermarks, message: "could not read the watermarks of partition \(partition)", topic: topic, brokers: brokers)
        }
        return KafkaWatermarks(low: low, high: high)
    }
}
