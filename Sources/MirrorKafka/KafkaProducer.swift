import CRdKafka
import Logging
import MirrorRuntime
import Synchronization

/// Produces keyed messages and waits for the broker to acknowledge them.
///
/// Idempotence is on (`enable.idempotence=true`): librdkafka's own retries never duplicate or reorder
/// a message within a partition. Keys are hashed with `murmur2`, as Kafka's Java clients do, so a
/// package name maps to the same partition whichever client wrote it.
public final class KafkaProducer: Sendable {
    /// How the producer behaves.
    public struct Configuration: Sendable {
        public var client: KafkaClientConfiguration
        /// `compression.codec`. Default ``KafkaCompressionCodec/lz4``.
        public var compression: KafkaCompressionCodec = .lz4
        /// `linger.ms`: how long to gather messages into a batch. Default 5 ms.
        public var linger: Duration = .milliseconds(5)
        /// `message.timeout.ms`: how long librdkafka keeps retrying one message before it reports the
        /// delivery as failed. Default 5 minutes, so a broker that is down for a while loses nothing.
        public var messageTimeout: Duration = .seconds(300)
        /// `partitioner`. Default `murmur2_random` (Java-compatible for keyed messages).
        public var partitioner: String = "murmur2_random"

        public init(client: KafkaClientConfiguration) {
            self.client = client
        }

        var properties: [String: String] {
            var properties: [String: String] = [
                "enable.idempotence": "true",
                "acks": "all",
                "compression.codec": compression.name,
                "linger.ms": String(linger.milliseconds),
                "message.timeout.ms": String(messageTimeout.milliseconds),
                "partitioner": partitioner,
            ]
            properties.merge(client.properties) { _, clientValue in clientValue }
            return properties
        }
    }

    private let client: RDKafkaClient
    private let tracker: DeliveryTracker
    private let pollLoop: RDKafkaPollLoop
    /// librdkafka topic handles, made on first use and destroyed with the producer.
    private let topicHandles = Mutex<[String: OpaquePointer]>([:])
    private let isShutDown = Atomic<Bool>(false)

    public init(configuration: Configuration, logger: Logger) throws {
        let tracker = DeliveryTracker()
        let context = RDKafkaClientContext(logger: logger, deliveryTracker: tracker)
        let client = try RDKafkaClient(type: RD_KAFKA_PRODUCER, properties: configuration.properties, context: context) {
            conf in
            rd_kafka_conf_set_dr_msg_cb(conf) { _, message, opaque in
                guard let message, let opaque else { return }
                let context = Unmanaged<RDKafkaClientContext>.fromOpaque(opaque).takeUnretainedValue()
                let topic = message.pointee.rkt.map { String(cString: rd_kafka_topic_name($0)) } ?? ""
                let report = KafkaDeliveryReport(topic: topic, partition: message.pointee.partition, offset: message.pointee.offset)
                let error: KafkaError? =
                    message.pointee.err == RD_KAFKA_RESP_ERR_NO_ERROR
                    ? nil
                    : .fromResponse(message.pointee.err, code: .deliveryFailed, message: "the broker did not acknowledge a message", topic: topic)
                if message.pointee._private == nil {
                    // Posted without a waiter (`post`): a failure is only said.
                    if let error { context.logger.warning("A posted message was not acknowledged", metadata: ["topic": "\(topic)", "error": "\(error)"]) }
                    return
                }
                context.deliveryTracker?.settle(opaque: message.pointee._private, report: report, error: error)
            }
        }
        self.client = client
        self.tracker = tracker
        self.pollLoop = RDKafkaPollLoop(client: client)
    }

    deinit {
        topicHandles.withLock { handles in
            for handle in handles.values { rd_kafka_topic_destroy(handle) }
            handles.removeAll()
        }
        pollLoop.requestStop()
    }

    /// Sends one message and returns once the broker has acknowledged it.
    public func send(_ message: KafkaProducerMessage) async throws -> KafkaDeliveryReport {
        try await send([message])[0]
    }

    /// Sends `messages` and returns once the broker has acknowledged every one of them, with their
    /// partitions and offsets in the same order.
    ///
    /// If any message is not acknowledged, it throws the first failure; some of the others may have
    /// been written, so the caller repeats the whole batch (duplicates are possible, loss is not).
    /// A task that is cancelled while waiting still waits for librdkafka's verdict on what it queued.
    public func send(_ messages: [KafkaProducerMessage]) async throws -> [KafkaDeliveryReport] {
        guard !messages.isEmpty else { return [] }
        guard !isShutDown.load(ordering: .relaxed) else {
            throw KafkaError(code: .shutdown, message: "the producer was shut down", brokers: client.brokers, isRetriable: false)
        }
        let batch = tracker.open(count: messages.count)
        for (index, message) in messages.enumerated() {
            do {
                try await enqueue(message, opaque: DeliveryTracker.opaque(batch: batch, index: index))
            } catch let error as KafkaError {
                tracker.stopEnqueueing(batch: batch, enqueued: index, error: error)
                break
            }
        }
        let outcome = await tracker.wait(batch: batch)
        if let failure = outcome.firstFailure {
            throw KafkaError(
                code: failure.code,
                message: "\(outcome.failureCount) of \(messages.count) messages not acknowledged; first: \(failure.message)",
                topic: failure.topic,
                brokers: client.brokers,
                librdkafkaError: failure.librdkafkaError,
                isRetriable: failure.isRetriable
            )
        }
        return outcome.reports.map { $0! }
    }

    /// Queues `messages` without waiting for the broker: for messages whose loss must not hold up the
    /// caller (progress events). It waits only while librdkafka's local queue is full. A message the
    /// broker later refuses is logged as a warning; ``shutdown(timeout:)`` still flushes what is queued.
    public func post(_ messages: [KafkaProducerMessage]) async throws {
        guard !isShutDown.load(ordering: .relaxed) else {
            throw KafkaError(code: .shutdown, message: "the producer was shut down", brokers: client.brokers, isRetriable: false)
        }
        for message in messages {
            try await enqueue(message, opaque: nil)
        }
    }

    /// Waits until every queued message is acknowledged or `timeout` passes.
    public func flush(timeout: Duration) async throws {
        let err = await BlockingWork.run { [client] in
            client.withHandle { rd_kafka_flush($0, Int32(clamping: timeout.milliseconds)) }
        }
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError.fromResponse(err, code: .timedOut, message: "messages still unacknowledged after flush", brokers: client.brokers)
        }
    }

    /// Flushes what is queued (up to `timeout`) and stops the producer's poll thread. Sends after this
    /// fail with ``KafkaError/Code/shutdown``.
    public func shutdown(timeout: Duration = .seconds(30)) async {
        guard !isShutDown.exchange(true, ordering: .relaxed) else { return }
        do {
            try await flush(timeout: timeout)
        } catch {
            client.logger.warning("Producer shut down with messages unacknowledged", metadata: ["error": "\(error)"])
        }
        await pollLoop.stop()
    }

    /// How many times a message found librdkafka's local queue full and waited for room.
    public var queueFullWaitCount: Int { queueFullWaits.load(ordering: .relaxed) }
    private let queueFullWaits = Atomic<Int>(0)

    private func enqueue(_ message: KafkaProducerMessage, opaque: UnsafeMutableRawPointer?) async throws {
        let topic = try topicHandle(message.topic)
        while true {
            let result: Int32 = message.value.withUnsafeBytes { value in
                withOptionalBytes(message.key) { key in
                    rd_kafka_produce(
                        topic,
                        message.partition ?? RD_KAFKA_PARTITION_UA,
                        RD_KAFKA_MSG_F_COPY,
                        UnsafeMutableRawPointer(mutating: value.baseAddress),
                        value.count,
                        key?.baseAddress,
                        key?.count ?? 0,
                        opaque
                    )
                }
            }
            if result == 0 { return }
            let err = rd_kafka_last_error()
            guard err == RD_KAFKA_RESP_ERR__QUEUE_FULL else {
                throw KafkaError.fromResponse(err, code: .enqueueFailed, message: "librdkafka refused the message", topic: message.topic, brokers: client.brokers)
            }
            // The local queue is full: the poll thread drains it as acknowledgements arrive. A
            // cancelled caller stops waiting (a cancelled sleep returns at once: without this check
            // the loop would spin).
            queueFullWaits.add(1, ordering: .relaxed)
            guard !Task.isCancelled else {
                throw KafkaError(code: .enqueueFailed, message: "cancelled while librdkafka's queue was full", topic: message.topic, brokers: client.brokers, isRetriable: true)
            }
            try? await Task.sleep(for: .milliseconds(2))
        }
    }

    private func topicHandle(_ name: String) throws -> OpaquePointer {
        try topicHandles.withLock { handles in
            if let handle = handles[name] { return handle }
            guard let handle = client.withHandle({ rd_kafka_topic_new($0, name, nil) }) else {
                throw KafkaError.fromResponse(rd_kafka_last_error(), code: .enqueueFailed, message: "could not open the topic", topic: name, brokers: client.brokers)
            }
            handles[name] = handle
            return handle
        }
    }
}

private func withOptionalBytes<R>(_ bytes: [UInt8]?, _ body: (UnsafeRawBufferPointer?) -> R) -> R {
    guard let bytes else { return body(nil) }
    return bytes.withUnsafeBytes { body($0) }
}
