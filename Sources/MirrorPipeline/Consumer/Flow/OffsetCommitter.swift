import CoreMetrics
import Foundation
import Logging
import MirrorRuntime
import MirrorKafka
import MirrorRecords
import MirrorStore
import Synchronization

/// The only place that commits offsets and writes `consumer.json`.
///
/// Commits come from a timer (every `COMMIT_INTERVAL`), from the revoke handler and from the end of
/// the run; all go through ``run()``, one at a time and in order, so a commit computed earlier can
/// never land after a later one and move the group's offset backwards.
///
/// Every request is answered: served, or released at once when the committer has finished or its
/// task was cancelled (a request left waiting would hang the task that made it, and the task group
/// that waits for that task).
final class OffsetCommitter: Sendable {
    private let state: ConsumerState
    /// Where the offsets go: the group's consumer.
    private let group: any OffsetCommitTarget
    /// Their parked changes are counted into `consumer.json` for `npm-mirror status`.
    private let lanes: [LaneQueue]
    private let checkpoints: CheckpointDirectory?
    private let metrics: ConsumerMetrics?
    private let logger: Logger
    private struct Requests {
        var waiting: [CheckedContinuation<Void, Never>] = []
        var closed = false
    }
    private let requests = Mutex(Requests())
    private let wakeup = Wakeup()

    init(
        state: ConsumerState,
        group: any OffsetCommitTarget,
        lanes: [LaneQueue],
        checkpoints: CheckpointDirectory?,
        metrics: ConsumerMetrics?,
        logger: Logger
    ) {
        self.state = state
        self.group = group
        self.lanes = lanes
        self.checkpoints = checkpoints
        self.metrics = metrics
        self.logger = logger
    }

    /// Serves commit requests until ``finish()`` (then it serves what was asked before) or until its
    /// task is cancelled (then it releases every request unserved).
    func run() async {
        var written: CheckpointDirectory.ConsumerCheckpoint?
        while true {
            let (batch, closed) = requests.withLock { requests in
                defer { requests.waiting = [] }
                return (requests.waiting, requests.closed)
            }
            if !batch.isEmpty {
                // One commit serves every request made before it began.
                await commitNow(written: &written)
                for request in batch { request.resume() }
                continue
            }
            if closed { return }
            if Task.isCancelled {
                let left = requests.withLock { requests in
                    requests.closed = true
                    defer { requests.waiting = [] }
                    return requests.waiting
                }
                for request in left { request.resume() }
                return
            }
            await wakeup.wait(until: nil)
        }
    }

    /// Commits everything done so far, after any commit already asked for; returns once it is done
    /// (or has failed and been logged). After ``finish()`` it returns at once.
    func commitDone() async {
        await withCheckedContinuation { continuation in
            let accepted = requests.withLock { requests in
                guard !requests.closed else { return false }
                requests.waiting.append(continuation)
                return true
            }
            if accepted { wakeup.signal() } else { continuation.resume() }
        }
    }

    /// Ends ``run()`` once the requests already made are served.
    func finish() {
        requests.withLock { $0.closed = true }
        wakeup.signal()
    }

    private func commitNow(written: inout CheckpointDirectory.ConsumerCheckpoint?) async {
        let offsets = state.tracker { $0.committable() }
        do {
            if !offsets.isEmpty {
                let start = ContinuousClock.now
                try await group.commit(processedThrough: offsets)
                state.tracker { $0.committed(offsets) }
                metrics?.stage("commit", since: start)
            }
            guard let checkpoints, let (seq, value) = state.checkpointCandidate else { return }
            let checkpoint = CheckpointDirectory.ConsumerCheckpoint(seq: seq, lastMessage: try? JSONValue(parsing: value), parked: lanes.reduce(0) { $0 + $1.parkedCount })
            guard checkpoint != written else { return }
            metrics?.lastProcessedSeq.record(seq)
            try await checkpoints.writeConsumer(checkpoint)
            written = checkpoint
        } catch {
            logger.warning("Offset commit failed; it will be retried", metadata: ["error": "\(error)"])
        }
    }
}

/// What the committer commits offsets to: the group's ``KafkaConsumer`` (a test gives it a slow
/// coordinator of its own).
protocol OffsetCommitTarget: Sendable {
    func commit(processedThrough positions: [KafkaTopicPartitionOffset]) async throws
}

extension KafkaConsumer: OffsetCommitTarget {}
