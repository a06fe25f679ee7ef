import MirrorKafka
import Synchronization

/// What the consumer's tasks share: the offset tracker, progress counts, the latest activity.
final class ConsumerState: Sendable {
    private struct Values {
        var progress = ConsumerProgress()
        var tracker = OffsetTracker()
        var lastActivity = ContinuousClock.now
        var lastCompleted = ContinuousClock.now
        var lastAssigned = ContinuousClock.now
        var stalled: ChangesConsumerService.ConsumerStalled?
        var highest: (seq: Int64, value: [UInt8])?
    }
    private let values = Mutex(Values())

    func tracker<T>(_ body: (inout OffsetTracker) -> T) -> T {
        values.withLock { body(&$0.tracker) }
    }

    var lastActivity: ContinuousClock.Instant { values.withLock { $0.lastActivity } }

    /// The group has given this member partitions: that counts as activity for the idle rule.
    func assigned() {
        values.withLock { state in
            state.lastActivity = .now
            state.lastAssigned = .now
        }
    }

    var lastAssigned: ContinuousClock.Instant { values.withLock { $0.lastAssigned } }

    /// Set by the stall watchdog: the poll loop ends the run with it.
    var stalled: ChangesConsumerService.ConsumerStalled? { values.withLock { $0.stalled } }

    func stall(_ error: ChangesConsumerService.ConsumerStalled) {
        values.withLock { $0.stalled = error }
    }

    var progress: ConsumerProgress {
        values.withLock { state in
            var progress = state.progress
            progress.highestCompleteSeq = state.tracker.highestCompleteSeq
            progress.inFlight = state.tracker.inFlight
            return progress
        }
    }

    func count(_ processed: ProcessedChange?) {
        values.withLock { state in
            state.progress.changesProcessed += 1
            for version in processed?.newVersions.values ?? [:].values {
                state.progress.tarballsStored += 1
                state.progress.tarballBytes += version.bytes ?? 0
            }
        }
    }

    /// Tracks a message that arrived; returns its partition's ownership epoch, or nil when it is
    /// already tracked (fetched again).
    func received(_ message: KafkaConsumerMessage, seq: Int64?) -> Int? {
        values.withLock { state in
            state.lastActivity = .now
            let partition = KafkaTopicPartition(topic: message.topic, partition: message.partition)
            guard state.tracker.received(partition, offset: message.offset, seq: seq) else { return nil }
            return state.tracker.epoch(of: partition)
        }
    }

    /// Whether the partition of a job received in `epoch` is still this member's, in that ownership.
    func owns(_ partition: KafkaTopicPartition, epoch: Int) -> Bool {
        values.withLock { $0.tracker.epoch(of: partition) == epoch }
    }

    /// When a change was last completed here (the start, before the first).
    var lastCompleted: ContinuousClock.Instant { values.withLock { $0.lastCompleted } }

    func completed(_ partition: KafkaTopicPartition, offset: Int64, epoch: Int? = nil, value: [UInt8]?, seq: Int64?) {
        values.withLock { state in
            state.lastActivity = .now
            state.lastCompleted = .now
            // A change of a partition revoked meanwhile: its offset is the next owner's now.
            if let epoch, state.tracker.epoch(of: partition) != epoch { return }
            state.tracker.completed(partition, offset: offset)
            if let seq, let value, seq > (state.highest?.seq ?? -1) { state.highest = (seq, value) }
        }
    }

    /// The highest completed change, if everything before it in its partition is complete too.
    var checkpointCandidate: (Int64, [UInt8])? {
        values.withLock { state in
            guard let highest = state.highest, let complete = state.tracker.highestCompleteSeq, complete >= highest.seq else { return nil }
            return (highest.seq, highest.value)
        }
    }
}
