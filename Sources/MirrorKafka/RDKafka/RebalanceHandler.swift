import CRdKafka
import Logging
import Synchronization

/// A change of the partitions this group member owns.
public enum KafkaRebalanceEvent: Sendable, Hashable {
    /// These partitions were given to this member.
    case assigned([KafkaTopicPartition])
    /// These partitions were taken away: work on them that is not committed yet will be redone by
    /// their next owner.
    case revoked([KafkaTopicPartition])
}

/// Applies the group's assignment decisions (librdkafka's rebalance callback) and reports them.
final class RebalanceHandler: Sendable {
    private let assignment = Mutex<Set<KafkaTopicPartition>>([])
    /// Rebalance callbacks so far (assignments, revocations, failures).
    private let rebalances = Mutex<Int>(0)
    private let continuation: AsyncStream<KafkaRebalanceEvent>.Continuation
    let events: AsyncStream<KafkaRebalanceEvent>

    init() {
        (events, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(256))
    }

    var currentAssignment: Set<KafkaTopicPartition> { assignment.withLock { $0 } }
    var generation: Int { rebalances.withLock { $0 } }

    /// Called on the thread that polls the consumer.
    func rebalance(
        handle: OpaquePointer,
        err: rd_kafka_resp_err_t,
        partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
        logger: Logger
    ) {
        rebalances.withLock { $0 += 1 }
        let changed = partitions.map { RDKafkaTopicPartitionList.entries(of: $0).map(\.offset.topicPartition) } ?? []
        let cooperative = rd_kafka_rebalance_protocol(handle).map { String(cString: $0) } == "COOPERATIVE"
        switch err {
        case RD_KAFKA_RESP_ERR__ASSIGN_PARTITIONS:
            if cooperative {
                rd_kafka_error_destroy(rd_kafka_incremental_assign(handle, partitions))
            } else {
                rd_kafka_assign(handle, partitions)
            }
            assignment.withLock { $0.formUnion(changed) }
            logger.info("Partitions assigned", metadata: ["kafka.partitions": "\(changed.sorted())"])
            continuation.yield(.assigned(changed.sorted()))
        case RD_KAFKA_RESP_ERR__REVOKE_PARTITIONS:
            continuation.yield(.revoked(changed.sorted()))
            if cooperative {
                rd_kafka_error_destroy(rd_kafka_incremental_unassign(handle, partitions))
            } else {
                rd_kafka_assign(handle, nil)
            }
            assignment.withLock { $0.subtract(changed) }
            logger.info("Partitions revoked", metadata: ["kafka.partitions": "\(changed.sorted())"])
        default:
            logger.warning("Rebalance failed; dropping the assignment", metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(err)))"])
            rd_kafka_assign(handle, nil)
            let lost = assignment.withLock { state in
                defer { state.removeAll() }
                return state.sorted()
            }
            if !lost.isEmpty { continuation.yield(.revoked(lost)) }
        }
    }

    func finish() {
        continuation.finish()
    }
}
