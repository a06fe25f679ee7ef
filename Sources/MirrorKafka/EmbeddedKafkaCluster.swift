import CRdKafka
import Logging

/// A Kafka cluster inside this process: librdkafka's mock cluster, which speaks the real Kafka
/// protocol on loopback ports (consumer groups, committed offsets and idempotent produce included).
///
/// It keeps nothing on disk: everything is gone when it is shut down. Topics must be created with
/// ``createTopic(_:partitions:replicationFactor:)``; the mock does not answer CreateTopics and
/// auto-creates an unknown topic with 4 partitions when a client asks for its metadata.
/// Faults can be injected only from this process.
public final class EmbeddedKafkaCluster: Sendable {
    private let host: RDKafkaClient
    private let cluster: MockClusterHandle
    /// The address clients connect to (`bootstrap.servers`).
    public let bootstrapServers: String
    /// Broker ids run from 1 to `brokerCount`.
    public let brokerCount: Int

    public init(brokerCount: Int = 1, logger: Logger) throws {
        precondition(brokerCount >= 1, "a cluster needs at least one broker")
        // The mock cluster lives inside a client instance of its own, used for nothing else.
        host = try RDKafkaClient(
            type: RD_KAFKA_PRODUCER,
            properties: ["client.id": "npm-mirror-embedded-cluster"],
            context: RDKafkaClientContext(logger: logger)
        )
        guard let cluster = host.withHandle({ rd_kafka_mock_cluster_new($0, Int32(clamping: brokerCount)) }) else {
            throw KafkaError(code: .mockCluster, message: "librdkafka could not start a mock cluster", isRetriable: false)
        }
        self.cluster = MockClusterHandle(pointer: cluster)
        self.bootstrapServers = String(cString: rd_kafka_mock_cluster_bootstraps(cluster))
        self.brokerCount = brokerCount
    }

    deinit {
        // librdkafka aborts if the hosting client is destroyed while its mock cluster lives.
        rd_kafka_mock_cluster_destroy(cluster.pointer)
    }

    /// Creates `topic` with `partitions` partitions (an existing topic is left as it is).
    public func createTopic(_ topic: String, partitions: Int, replicationFactor: Int = 1) throws {
        let err = rd_kafka_mock_topic_create(cluster.pointer, topic, Int32(clamping: partitions), Int32(clamping: min(replicationFactor, brokerCount)))
        try check(err, "could not create the topic", topic: topic)
    }

    /// Takes broker `id` offline: its connections are closed and new ones refused.
    public func setBrokerDown(_ id: Int32) throws {
        try check(rd_kafka_mock_broker_set_down(cluster.pointer, id), "could not take broker \(id) down")
    }

    /// Brings broker `id` back.
    public func setBrokerUp(_ id: Int32) throws {
        try check(rd_kafka_mock_broker_set_up(cluster.pointer, id), "could not bring broker \(id) up")
    }

    /// Moves the leadership of one partition to broker `id`.
    public func setPartitionLeader(topic: String, partition: Int32, broker id: Int32) throws {
        try check(rd_kafka_mock_partition_set_leader(cluster.pointer, topic, partition, id), "could not move the leader of partition \(partition)", topic: topic)
    }

    /// Delays every answer of broker `id` by `rtt`.
    public func setRoundTripTime(broker id: Int32, _ rtt: Duration) throws {
        try check(rd_kafka_mock_broker_set_rtt(cluster.pointer, id, Int32(clamping: rtt.milliseconds)), "could not set the round-trip time of broker \(id)")
    }

    /// Makes the next `errors.count` requests of kind `api` fail, in order, with these error codes.
    public func pushRequestErrors(_ api: KafkaAPIKey, _ errors: [KafkaResponseCode]) {
        var codes = errors.map { rd_kafka_resp_err_t($0.rawValue) }
        rd_kafka_mock_push_request_errors_array(cluster.pointer, api.rawValue, codes.count, &codes)
    }

    /// Forgets injected request errors of kind `api` that have not fired yet.
    public func clearRequestErrors(_ api: KafkaAPIKey) {
        rd_kafka_mock_clear_request_errors(cluster.pointer, api.rawValue)
    }

    private func check(_ err: rd_kafka_resp_err_t, _ message: String, topic: String? = nil) throws {
        guard err == RD_KAFKA_RESP_ERR_NO_ERROR else {
            throw KafkaError.fromResponse(err, code: .mockCluster, message: message, topic: topic, brokers: bootstrapServers)
        }
    }
}

/// The mock cluster's handle. librdkafka serves every mock call through the cluster's own thread,
/// so the handle may be used from any thread. ``EmbeddedKafkaCluster`` destroys it.
private struct MockClusterHandle: @unchecked Sendable {
    let pointer: OpaquePointer
}

/// A Kafka protocol request kind, for fault injection (the numbers are Kafka's ApiKeys).
public struct KafkaAPIKey: Sendable, Hashable {
    public let rawValue: Int16
    public init(rawValue: Int16) { self.rawValue = rawValue }
    public static let produce = KafkaAPIKey(rawValue: 0)
    public static let fetch = KafkaAPIKey(rawValue: 1)
    public static let listOffsets = KafkaAPIKey(rawValue: 2)
    public static let metadata = KafkaAPIKey(rawValue: 3)
    public static let offsetCommit = KafkaAPIKey(rawValue: 8)
    public static let offsetFetch = KafkaAPIKey(rawValue: 9)
    public static let findCoordinator = KafkaAPIKey(rawValue: 10)
    public static let joinGroup = KafkaAPIKey(rawValue: 11)
    public static let heartbeat = KafkaAPIKey(rawValue: 12)
    public static let syncGroup = KafkaAPIKey(rawValue: 14)
    public static let initProducerID = KafkaAPIKey(rawValue: 22)
}

/// A Kafka protocol error code, for fault injection.
public struct KafkaResponseCode: Sendable, Hashable {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public static let notLeaderForPartition = KafkaResponseCode(rawValue: Int32(RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION.rawValue))
    public static let leaderNotAvailable = KafkaResponseCode(rawValue: Int32(RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE.rawValue))
    public static let requestTimedOut = KafkaResponseCode(rawValue: Int32(RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT.rawValue))
    public static let notCoordinator = KafkaResponseCode(rawValue: Int32(RD_KAFKA_RESP_ERR_NOT_COORDINATOR.rawValue))
    public static let coordinatorNotAvailable = KafkaResponseCode(rawValue: Int32(RD_KAFKA_RESP_ERR_COORDINATOR_NOT_AVAILABLE.rawValue))
    public static let notEnoughReplicas = KafkaResponseCode(rawValue: Int32(RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS.rawValue))
    public static let networkException = KafkaResponseCode(rawValue: Int32(RD_KAFKA_RESP_ERR_NETWORK_EXCEPTION.rawValue))
}
