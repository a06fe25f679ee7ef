import MirrorKafka

/// Which offsets may be committed, per partition, while messages finish out of order.
///
/// Messages are `received` in offset order per partition and `completed` in any order. A partition
/// may be committed through offset O once every message received at or below O is complete, so a
/// crash after a commit never skips a change. Each offset carries its change's seq, so the highest
/// fully processed seq is known too.
public struct OffsetTracker: Sendable {
    private struct Partition: Sendable {
        /// Received and not yet completed: offset → seq.
        var pending: [Int64: Int64] = [:]
        /// Completed offsets above the lowest pending one, waiting for it: offset → seq.
        var finished: [Int64: Int64] = [:]
        var highestReceived: Int64 = -1
        /// Everything at or below this offset is complete.
        var completeThrough: Int64 = -1
        var seqCompleteThrough: Int64?
        var committed: Int64 = -1
    }

    private var partitions: [KafkaTopicPartition: Partition] = [:]

    public init() {}

    /// Messages received and not completed, over all partitions.
    public var inFlight: Int { partitions.values.reduce(0) { $0 + $1.pending.count } }

    public mutating func received(_ partition: KafkaTopicPartition, offset: Int64, seq: Int64?) {
        var state = partitions[partition] ?? Partition(completeThrough: offset - 1, committed: offset - 1)
        state.pending[offset] = seq ?? -1
        state.highestReceived = max(state.highestReceived, offset)
        partitions[partition] = state
    }

    public mutating func completed(_ partition: KafkaTopicPartition, offset: Int64) {
        guard var state = partitions[partition], let seq = state.pending.removeValue(forKey: offset) else { return }
        state.finished[offset] = seq
        // Advance over every finished offset below the lowest still pending.
        let lowestPending = state.pending.keys.min() ?? Int64.max
        for finishedOffset in state.finished.keys.sorted() where finishedOffset < lowestPending {
            let finishedSeq = state.finished.removeValue(forKey: finishedOffset)!
            state.completeThrough = max(state.completeThrough, finishedOffset)
            if finishedSeq >= 0 { state.seqCompleteThrough = max(state.seqCompleteThrough ?? finishedSeq, finishedSeq) }
        }
        if state.pending.isEmpty { state.completeThrough = max(state.completeThrough, state.highestReceived) }
        partitions[partition] = state
    }

    /// Per partition, the offset through which everything is complete and not yet committed.
    public func committable() -> [KafkaTopicPartitionOffset] {
        partitions.compactMap { partition, state in
            state.completeThrough > state.committed
                ? KafkaTopicPartitionOffset(topic: partition.topic, partition: partition.partition, offset: state.completeThrough)
                : nil
        }.sorted { $0.topicPartition < $1.topicPartition }
    }

    /// Records a successful commit.
    public mutating func committed(_ offsets: [KafkaTopicPartitionOffset]) {
        for entry in offsets {
            guard var state = partitions[entry.topicPartition] else { continue }
            state.committed = max(state.committed, entry.offset)
            partitions[entry.topicPartition] = state
        }
    }

    /// The highest seq whose message, and every message before it in its partition, is complete.
    public var highestCompleteSeq: Int64? {
        partitions.values.compactMap(\.seqCompleteThrough).max()
    }

    /// Forgets partitions this member no longer owns; their pending work will be redone by the next owner.
    public mutating func revoke(_ revoked: [KafkaTopicPartition]) {
        for partition in revoked { partitions[partition] = nil }
    }
}
