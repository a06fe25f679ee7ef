import DequeModule
import MirrorKafka

/// Which offsets may be committed, per partition, while messages finish out of order.
///
/// Messages are `received` in offset order per partition and `completed` in any order. A partition
/// may be committed through offset O once every message received at or below O is complete, so a
/// crash after a commit never skips a change. Each offset carries its change's seq, so the highest
/// fully processed seq is known too.
///
/// Per partition the messages in flight are a deque in offset order: receiving appends, completing
/// marks one entry (found by binary search: offsets rise but may have gaps) and pops the finished
/// prefix. Nothing is copied or sorted per message.
public struct OffsetTracker: Sendable {
    private struct Entry: Sendable {
        var offset: Int64
        /// The change's seq, -1 when the message was not a change.
        var seq: Int64
        var done = false
    }

    private struct Partition: Sendable {
        /// Received and not yet popped, in offset order. The first entry is never done.
        var entries = Deque<Entry>()
        var pending = 0
        /// Everything at or below this offset is complete.
        var completeThrough: Int64
        var seqCompleteThrough: Int64?
        var committed: Int64
        /// Which ownership of the partition this is: a partition revoked and assigned again gets a
        /// new one, so work finished for the old ownership is not counted in the new one.
        var epoch: Int

        func index(of offset: Int64) -> Int? {
            var low = entries.startIndex
            var high = entries.endIndex
            while low < high {
                let middle = low + (high - low) / 2
                if entries[middle].offset < offset { low = middle + 1 } else { high = middle }
            }
            return low < entries.endIndex && entries[low].offset == offset ? low : nil
        }
    }

    private var partitions: [KafkaTopicPartition: Partition] = [:]
    private var epochs = 0
    /// Messages received and not completed, over all partitions.
    public private(set) var inFlight = 0

    public init() {}

    /// Tracks a message; false (and nothing changes) when its offset is not above the last one
    /// received in its partition: it is already tracked or done.
    @discardableResult
    public mutating func received(_ partition: KafkaTopicPartition, offset: Int64, seq: Int64?) -> Bool {
        var state: Partition
        if let known = partitions.removeValue(forKey: partition) {
            state = known
        } else {
            epochs += 1
            state = Partition(completeThrough: offset - 1, committed: offset - 1, epoch: epochs)
        }
        if offset <= (state.entries.last?.offset ?? state.completeThrough) {
            partitions[partition] = state
            return false
        }
        state.entries.append(Entry(offset: offset, seq: seq ?? -1))
        state.pending += 1
        inFlight += 1
        partitions[partition] = state
        return true
    }

    /// The ownership a tracked partition is in (see ``completed(_:offset:epoch:)``), nil when it is
    /// not tracked.
    public func epoch(of partition: KafkaTopicPartition) -> Int? {
        partitions[partition]?.epoch
    }

    /// Marks a message complete. With `epoch`, only when the partition is still in that ownership: a
    /// change of a revoked partition that finishes afterwards counts for nothing.
    public mutating func completed(_ partition: KafkaTopicPartition, offset: Int64, epoch: Int? = nil) {
        guard var state = partitions.removeValue(forKey: partition) else { return }
        defer { partitions[partition] = state }
        if let epoch, epoch != state.epoch { return }
        guard let index = state.index(of: offset), !state.entries[index].done else { return }
        state.entries[index].done = true
        state.pending -= 1
        inFlight -= 1
        // Advance over the finished prefix.
        while let first = state.entries.first, first.done {
            state.entries.removeFirst()
            state.completeThrough = first.offset
            if first.seq >= 0 { state.seqCompleteThrough = max(state.seqCompleteThrough ?? first.seq, first.seq) }
        }
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

    /// Forgets partitions this member no longer owns; their pending work will be redone by the next
    /// owner. Returns, for those that had any, the offset through which everything is complete and
    /// not yet committed: what the revoke commits before giving them up.
    @discardableResult
    public mutating func revoke(_ revoked: [KafkaTopicPartition]) -> [KafkaTopicPartitionOffset] {
        var done: [KafkaTopicPartitionOffset] = []
        for partition in revoked {
            guard let state = partitions.removeValue(forKey: partition) else { continue }
            inFlight -= state.pending
            if state.completeThrough > state.committed {
                done.append(KafkaTopicPartitionOffset(topic: partition.topic, partition: partition.partition, offset: state.completeThrough))
            }
        }
        return done.sorted { $0.topicPartition < $1.topicPartition }
    }
}
