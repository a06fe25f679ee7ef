import CoreMetrics
import Foundation
import Logging
import MirrorBlocking
import MirrorKafka
import MirrorRecords
import MirrorStore

/// The only place that commits offsets and writes `consumer.json`.
///
/// Commits come from a timer (every `COMMIT_INTERVAL`), from the revoke handler and from the end of
/// the run; all go through ``run()``, one at a time and in order, so a commit computed earlier can
/// never land after a later one and move the group's offset backwards.
struct OffsetCommitter: Sendable {
    typealias Commit = @Sendable ([KafkaTopicPartitionOffset]) async throws -> Void

    private let state: ConsumerState
    /// Changes parked now, written to `consumer.json` for `npm-mirror status`.
    private let parked: @Sendable () -> Int
    private let commit: Commit
    private let checkpoints: CheckpointDirectory?
    private let metrics: ConsumerMetrics?
    private let logger: Logger
    private let requests: AsyncStream<CheckedContinuation<Void, Never>>.Continuation
    private let stream: AsyncStream<CheckedContinuation<Void, Never>>

    init(
        state: ConsumerState,
        checkpoints: CheckpointDirectory?,
        metrics: ConsumerMetrics?,
        logger: Logger,
        parked: @escaping @Sendable () -> Int = { 0 },
        commit: @escaping Commit
    ) {
        self.state = state
        self.parked = parked
        self.commit = commit
        self.checkpoints = checkpoints
        self.metrics = metrics
        self.logger = logger
        (stream, requests) = AsyncStream.makeStream()
    }

    /// Serves commit requests until ``finish()``.
    func run() async {
        var written: Checkpoint?
        for await request in stream {
            await commitNow(written: &written)
            request.resume()
        }
    }

    /// What `consumer.json` says.
    private struct Checkpoint: Equatable {
        var seq: Int64
        var lastMessage: [UInt8]
        var parked: Int
    }

    /// Commits everything done so far, after any commit already asked for; returns once it is done
    /// (or has failed and been logged). After ``finish()`` it returns at once.
    func commitDone() async {
        await withCheckedContinuation { continuation in
            if case .terminated = requests.yield(continuation) { continuation.resume() }
        }
    }

    /// Ends ``run()`` once the requests already made are served.
    func finish() {
        requests.finish()
    }

    private func commitNow(written: inout Checkpoint?) async {
        let offsets = state.tracker { $0.committable() }
        do {
            if !offsets.isEmpty {
                let start = ContinuousClock.now
                try await commit(offsets)
                state.tracker { $0.committed(offsets) }
                metrics?.stage("commit", since: start)
            }
            guard let checkpoints, let (seq, value) = state.checkpointCandidate else { return }
            let checkpoint = Checkpoint(seq: seq, lastMessage: value, parked: parked())
            guard checkpoint != written else { return }
            metrics?.lastProcessedSeq.record(seq)
            try await checkpoints.write(Self.contents(of: checkpoint), toFile: "consumer.json")
            written = checkpoint
        } catch {
            logger.warning("Offset commit failed; it will be retried", metadata: ["error": "\(error)"])
        }
    }

    /// `consumer.json`: the highest seq processed with everything before it, its message, and how
    /// many changes were parked when it was written.
    private static func contents(of checkpoint: Checkpoint) -> Data {
        var object: [String: JSONValue] = ["seq": .number(Double(checkpoint.seq)), "parked": .number(Double(checkpoint.parked))]
        object["last_message"] = try? JSONValue(parsing: checkpoint.lastMessage)
        return Data(JSONValue.object(object).serializedBytes)
    }
}
