import MirrorKafka

/// Notices changes a partition no longer held when this member reached them: offsets that were
/// never delivered, because the topic's retention deleted them (or someone deleted records) while
/// they waited in the backlog. librdkafka then resets to the oldest message it still has
/// (`auto.offset.reset=earliest`) without a word, and the mirror would miss those changes.
///
/// For each partition it knows the offset the next message should have. Its first message (after
/// start or a rebalance) is compared with the group's committed offset, or with 0 when the group
/// has none; every later one with the one before. Nothing is lowered: a message delivered again
/// (after a pause, or a rebalance within one poll) is not a gap. Offsets only move forward on this
/// topic (no compaction, no transactions), so a jump is a loss.
struct OffsetGaps: Sendable {
    /// Messages `from..<to` of `partition` were never delivered.
    struct Gap: Sendable, Hashable {
        let partition: KafkaTopicPartition
        let from: Int64
        let to: Int64
        var count: Int64 { to - from }
    }

    private var next: [KafkaTopicPartition: Int64] = [:]

    /// Whether a message of `partition` has been seen since the last ``forgetAll()``.
    func knows(_ partition: KafkaTopicPartition) -> Bool { next[partition] != nil }

    /// Records a delivered message. `start` is where the partition should begin when no message of
    /// it has been seen yet: the group's committed offset, 0 when none (ignored otherwise).
    mutating func observe(_ partition: KafkaTopicPartition, offset: Int64, start: Int64) -> Gap? {
        let expected = next[partition] ?? max(0, start)
        next[partition] = max(next[partition] ?? 0, offset + 1)
        guard offset > expected else { return nil }
        return Gap(partition: partition, from: expected, to: offset)
    }

    /// After a rebalance: partitions may have moved, and other members may have consumed them since.
    mutating func forgetAll() {
        next.removeAll()
    }
}
