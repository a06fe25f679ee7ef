import CRdKafka
import Logging
import Synchronization

/// A change of the partitions this group member owns.
public enum KafkaRebalanceEvent: Sendable, Hashable {
    /// These partitions were given to this member.
    case assigned([KafkaTopicPartition])
    /// These partitions were taken away. What the revoke handler returned was committed before they
    /// were given up; the rest of their work will be redone by their next owner.
    case revoked([KafkaTopicPartition])
}

/// Called inside a rebalance, on the polling thread, before revoked partitions are given up: it
/// drops the member's work on them and returns, per partition, the offset through which every
/// message is done. Those offsets are committed synchronously before the unassign.
public typealias KafkaRevokeHandler = @Sendable (_ revoked: [KafkaTopicPartition]) -> [KafkaTopicPartitionOffset]

/// Applies the group's assignment decisions (librdkafka's rebalance callback) and reports them.
///
/// The callback makes no call that can wait on the group coordinator without bound: the rebalance
/// protocol is known from the configuration (`rd_kafka_rebalance_protocol()` asks the group thread
/// and waits for its answer), and the revoke commit is the one synchronous call, bounded by the
/// client's request timeout. Commits made elsewhere (``commit(through:handle:)``) take the same lock
/// and leave out partitions this member no longer owns, so a commit computed before a revoke can
/// never land after it and move the group's offset backwards.
final class RebalanceHandler: Sendable {
    private let assignment = Mutex<Set<KafkaTopicPartition>>([])
    /// Rebalance callbacks so far (assignments, revocations, failures).
    private let rebalances = Atomic<Int>(0)
    /// Held around every commit and around a revoke's commit and unassign.
    private let commitLock = Mutex<Void>(())
    private let revokeHandler = Mutex<KafkaRevokeHandler?>(nil)
    private let continuation: AsyncStream<KafkaRebalanceEvent>.Continuation
    let events: AsyncStream<KafkaRebalanceEvent>
    /// `partition.assignment.strategy` names the cooperative-sticky assignor.
    let cooperative: Bool

    init(cooperative: Bool) {
        self.cooperative = cooperative
        (events, continuation) = AsyncStream.makeStream(bufferingPolicy: .bufferingNewest(256))
    }

    var currentAssignment: Set<KafkaTopicPartition> { assignment.withLock { $0 } }
    var generation: Int { rebalances.load(ordering: .relaxed) }

    func setRevokeHandler(_ handler: KafkaRevokeHandler?) {
        revokeHandler.withLock { $0 = handler }
    }

    /// Commits `offsets` (each the position after the last message done) for the partitions this
    /// member still owns; the others are left out. Returns what was sent and librdkafka's answer:
    /// the request's error, or else the first partition's error.
    func commit(_ offsets: [KafkaTopicPartitionOffset], handle: OpaquePointer) -> (sent: [KafkaTopicPartitionOffset], error: rd_kafka_resp_err_t) {
        commitLock.withLock { _ in
            let owned = assignment.withLock { $0 }
            let kept = offsets.filter { owned.contains($0.topicPartition) }
            guard !kept.isEmpty else { return ([], RD_KAFKA_RESP_ERR_NO_ERROR) }
            let list = RDKafkaTopicPartitionList(kept)
            let err = rd_kafka_commit(handle, list.pointer, 0)
            let failed = list.entries.first { $0.error != RD_KAFKA_RESP_ERR_NO_ERROR }?.error
            return (kept, err != RD_KAFKA_RESP_ERR_NO_ERROR ? err : failed ?? RD_KAFKA_RESP_ERR_NO_ERROR)
        }
    }

    /// Called on the thread that polls the consumer.
    func rebalance(
        handle: OpaquePointer,
        err: rd_kafka_resp_err_t,
        partitions: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>?,
        logger: Logger
    ) {
        rebalances.add(1, ordering: .relaxed)
        let changed = partitions.map { RDKafkaTopicPartitionList.entries(of: $0).map(\.offset.topicPartition) } ?? []
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
            commitLock.withLock { _ in
                // The member's work on them is dropped and what is done committed, while they are
                // still this member's: the next owner starts after it.
                let done = revokeHandler.withLock { $0 }?(changed) ?? []
                let revoked = Set(changed)
                let next = done.filter { revoked.contains($0.topicPartition) }.map {
                    KafkaTopicPartitionOffset(topic: $0.topicPartition.topic, partition: $0.topicPartition.partition, offset: $0.offset + 1)
                }
                if !next.isEmpty {
                    let list = RDKafkaTopicPartitionList(next)
                    let err = rd_kafka_commit(handle, list.pointer, 0)
                    if err == RD_KAFKA_RESP_ERR_NO_ERROR {
                        logger.info("Committed the revoked partitions' finished work", metadata: ["kafka.offsets": "\(next.map { "\($0.topicPartition)@\($0.offset)" })"])
                    } else {
                        // Kafka refuses it while the group is already rebalancing (REBALANCE_IN_PROGRESS; the
                        // mock cluster always, a real broker not in PreparingRebalance): at-least-once holds.
                        logger.notice(
                            "Could not commit the revoked partitions' finished work: their next owner redoes it",
                            metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(err)))"]
                        )
                    }
                }
                assignment.withLock { $0.subtract(changed) }
            }
            if cooperative {
                rd_kafka_error_destroy(rd_kafka_incremental_unassign(handle, partitions))
            } else {
                rd_kafka_assign(handle, nil)
            }
            logger.info("Partitions revoked", metadata: ["kafka.partitions": "\(changed.sorted())"])
            continuation.yield(.revoked(changed.sorted()))
        default:
            // The assignment is lost (the member was fenced out of the group): nothing may be
            // committed for it any more, but the work on it is dropped all the same.
            logger.warning("Rebalance failed; dropping the assignment", metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(err)))"])
            let lost = commitLock.withLock { _ in
                let lost = assignment.withLock { state in
                    defer { state.removeAll() }
                    return state.sorted()
                }
                if !lost.isEmpty { _ = revokeHandler.withLock { $0 }?(lost) }
                return lost
            }
            rd_kafka_assign(handle, nil)
            if !lost.isEmpty { continuation.yield(.revoked(lost)) }
        }
    }

    func finish() {
        continuation.finish()
    }
}
