import MirrorKafka
import Synchronization

/// What the consumer's tasks share: the offset tracker, progress counts, the latest activity.
final class ConsumerState: Sendable {
    private struct Values {
        var progress = ConsumerProgress()
        var tracker = OffsetTracker()
        var lastActivity = ContinuousClock.now
        var highest: (seq: Int64, value: [UInt8])?
    }
    private let values = Mutex(Values())

    func tracker<T>(_ body: (inout OffsetTracker) -> T) -> T {
        values.withLock { body(&$0.tracker) }
    }

    var lastActivity: ContinuousClock.Instant { values.withLock { $0.lastActivity } }

    /// The group has given this member partitions: that counts as activity for the idle rule.
    func assigned() {
        values.withLock { $0.lastActivity = .now }
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

    /// Tracks a message that arrived; false when it is already tracked (fetched again).
    func received(_ message: KafkaConsumerMessage, seq: Int64?) -> Bool {
        values.withLock { state in
            state.lastActivity = .now
            return state.tracker.received(KafkaTopicPartition(topic: message.topic, partition: message.partition), offset: message.offset, seq: seq)
        }
    }

    func completed(_ partition: KafkaTopicPartition, offset: Int64, value: [UInt8]?, seq: Int64?) {
        values.withLock { state in
            state.tracker.completed(partition, offset: offset)
            state.lastActivity = .now
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
