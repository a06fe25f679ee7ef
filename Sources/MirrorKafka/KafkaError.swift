import CRdKafka

/// An error from the Kafka layer: what failed, on which topic or broker, and whether trying again can help.
///
/// The ``shortDescription`` is bounded (one of a fixed set of words) so it can be used as a metric label.
public struct KafkaError: Error, CustomStringConvertible, Sendable {
    /// What kind of failure this is.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        fileprivate enum Kind: String, Sendable {
            case configuration, clientCreation, topicCreation, timedOut, deliveryFailed, enqueueFailed
            case commitFailed, metadata, topicNotFound, subscription, consumption, watermarks, shutdown, mockCluster
        }
        fileprivate let kind: Kind
        /// A bad client property (an unknown key or a value librdkafka refuses).
        public static let configuration = Code(kind: .configuration)
        /// `rd_kafka_new` failed.
        public static let clientCreation = Code(kind: .clientCreation)
        /// The broker refused a CreateTopics request.
        public static let topicCreation = Code(kind: .topicCreation)
        /// A request got no answer in the time allowed.
        public static let timedOut = Code(kind: .timedOut)
        /// A produced message was not acknowledged by the broker.
        public static let deliveryFailed = Code(kind: .deliveryFailed)
        /// librdkafka refused to queue a message.
        public static let enqueueFailed = Code(kind: .enqueueFailed)
        /// An offset commit failed.
        public static let commitFailed = Code(kind: .commitFailed)
        /// A metadata request failed.
        public static let metadata = Code(kind: .metadata)
        /// The topic does not exist.
        public static let topicNotFound = Code(kind: .topicNotFound)
        /// Subscribing a consumer failed.
        public static let subscription = Code(kind: .subscription)
        /// The consumer reported a fatal error.
        public static let consumption = Code(kind: .consumption)
        /// Reading low/high watermarks failed.
        public static let watermarks = Code(kind: .watermarks)
        /// The client was already shut down.
        public static let shutdown = Code(kind: .shutdown)
        /// A request to the embedded mock cluster failed.
        public static let mockCluster = Code(kind: .mockCluster)

        public var description: String { kind.rawValue }
    }

    /// What kind of failure this is.
    public let code: Code
    /// A human-readable explanation, including librdkafka's own words where there are any.
    public let message: String
    /// The topic the operation concerned, if any.
    public let topic: String?
    /// The broker(s) the client was talking to (its bootstrap list), if known.
    public let brokers: String?
    /// librdkafka's error name (e.g. `_TIMED_OUT`, `TOPIC_ALREADY_EXISTS`), if the error came from it.
    public let librdkafkaError: String?
    /// Whether the same operation may succeed if tried again later.
    public let isRetriable: Bool
    /// Where in this package the error was raised.
    public let location: String

    /// A bounded, one-word summary, suitable as a metric label value.
    public var shortDescription: String { code.description }

    public var description: String {
        var parts = ["Kafka \(code): \(message)"]
        if let topic { parts.append("topic=\(topic)") }
        if let brokers { parts.append("brokers=\(brokers)") }
        if let librdkafkaError { parts.append("rdkafka=\(librdkafkaError)") }
        parts.append(isRetriable ? "retriable" : "not retriable")
        return parts.joined(separator: " ")
    }

    init(
        code: Code,
        message: String,
        topic: String? = nil,
        brokers: String? = nil,
        librdkafkaError: String? = nil,
        isRetriable: Bool,
        fileID: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.message = message
        self.topic = topic
        self.brokers = brokers
        self.librdkafkaError = librdkafkaError
        self.isRetriable = isRetriable
        self.location = "\(fileID):\(line)"
    }

    /// An error built from a librdkafka response code.
    static func fromResponse(
        _ err: rd_kafka_resp_err_t,
        code: Code,
        message: String,
        topic: String? = nil,
        brokers: String? = nil,
        fileID: String = #fileID,
        line: Int = #line
    ) -> KafkaError {
        KafkaError(
            code: err == RD_KAFKA_RESP_ERR__TIMED_OUT ? .timedOut : code,
            message: "\(message): \(String(cString: rd_kafka_err2str(err)))",
            topic: topic,
            brokers: brokers,
            librdkafkaError: String(cString: rd_kafka_err2name(err)),
            isRetriable: Self.isRetriable(err),
            fileID: fileID,
            line: line
        )
    }

    /// Response codes that describe a passing condition: the same request can succeed later.
    static func isRetriable(_ err: rd_kafka_resp_err_t) -> Bool {
        switch err {
        case RD_KAFKA_RESP_ERR__TIMED_OUT, RD_KAFKA_RESP_ERR__TRANSPORT, RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN,
            RD_KAFKA_RESP_ERR__QUEUE_FULL, RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, RD_KAFKA_RESP_ERR__WAIT_COORD,
            RD_KAFKA_RESP_ERR__TIMED_OUT_QUEUE, RD_KAFKA_RESP_ERR__RESOLVE, RD_KAFKA_RESP_ERR__IN_PROGRESS,
            RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT, RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE,
            RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION, RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION,
            RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_NOT_COORDINATOR,
            RD_KAFKA_RESP_ERR_COORDINATOR_LOAD_IN_PROGRESS, RD_KAFKA_RESP_ERR_REBALANCE_IN_PROGRESS,
            RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
            RD_KAFKA_RESP_ERR_BROKER_NOT_AVAILABLE, RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART,
            RD_KAFKA_RESP_ERR_KAFKA_STORAGE_ERROR, RD_KAFKA_RESP_ERR_THROTTLING_QUOTA_EXCEEDED:
            return true
        default:
            return false
        }
    }
}
