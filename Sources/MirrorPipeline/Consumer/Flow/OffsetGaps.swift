import MirrorKafka

/// Notices changes a partition no longer held when this member reached them: offsets that were
/// never delivered, because the topic's retention deleted them (or someone deleted records) while
/// they waited in the backlog. librdkafka then resets to the oldest message it still has
/// (`auto.offset.reset=earliest`) without a word, and the mirror would miss those changes.
///
/// A partition's first message (after start or a rebalance) is compared with the group's committed
/// offset, 0 when the group has none: ``resolve(_:start:)``, once the broker has said (the caller
/// asks again while it cannot). Every later message is compared with the one before. Nothing is
/// lowered: a message delivered again (after a pause, or a rebalance within one poll) is not a
/// gap. Offsets only move forward on this topic (no compaction, no transactions), so a jump is a
/// loss.
struct OffsetGaps: Sendable {
    /// Messages `from..<to` of `partition` were never delivered.
    struct Gap: Sendable, Hashable {
        let partition: KafkaTopicPartition
        let from: Int64
        let to: Int64
        var count: Int64 { to - from }
    }

    /// The offset each partition's next message should have.
    private var next: [KafkaTopicPartition: Int64] = [:]
    /// Partitions whose start is not checked yet, with the lowest offset delivered since.
    private var firstSeen: [KafkaTopicPartition: Int64] = [:]

    /// Partitions whose first delivered offset still waits for the committed offset.
    var unresolved: [KafkaTopicPartition] { firstSeen.keys.sorted() }

    /// Records a delivered message; a jump past the offset expected next is a gap.
    mutating func observe(_ partition: KafkaTopicPartition, offset: Int64) -> Gap? {
        guard let expected = next[partition] else {
            next[partition] = offset + 1
            firstSeen[partition] = offset
            return nil
        }
        next[partition] = max(expected, offset + 1)
        if let first = firstSeen[partition], offset < first { firstSeen[partition] = offset }
        return offset > expected ? Gap(partition: partition, from: expected, to: offset) : nil
    }

    /// Checks `partition`'s first delivered offset against `start`, the group's committed offset
    /// (0 when none).
    mutating func resolve(_ partition: KafkaTopicPartition, start: Int64) -> Gap? {
        guard let first = firstSeen.removeValue(forKey: partition) else { return nil }
        return first > max(0, start) ? Gap(partition: partition, from: max(0, start), to: first) : nil
    }

    /// After a rebalance: partitions may have moved, and other members may have consumed them since.
    mutating func forgetAll() {
        next.removeAll()
        firstSeen.removeAll()
    }
}
