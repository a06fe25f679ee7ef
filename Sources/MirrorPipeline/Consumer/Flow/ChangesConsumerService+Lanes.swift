import CoreMetrics
import Logging
import MirrorRuntime
import MirrorKafka
import MirrorRecords
import MirrorStore
import NPMRegistry
import ServiceLifecycle

// A lane's worker and one attempt at a change: what each of the consumer's N lanes runs.

extension ChangesConsumerService {
    /// One lane's worker: runs one change at a time, overlapping each change's record step with the
    /// next change's processing (records are still written one at a time, in the lane's order).
    func work(_ lane: LaneQueue) async {
        await withTaskGroup(of: Void.self) { recording in
            while case .run(var job, let superseded) = await lane.next() {
                let key = job.message.key ?? []
                let partition = KafkaTopicPartition(topic: job.message.topic, partition: job.message.partition)
                switch await attempt(&job, superseded: superseded, lane: lane) {
                case .finished(let outcome):
                    lane.finished(key)
                    await recording.next()
                    recording.addTask { [message = job.message, epoch = job.epoch] in await recordStep.record(outcome, message: message, epoch: epoch) }
                case .retry where !state.owns(partition, epoch: job.epoch):
                    // Its partition was revoked during the attempt: the next owner retries it.
                    lane.finished(key)
                    metrics.revokedChangesDropped.increment()
                case .retry(let wait):
                    if lane.canPark {
                        lane.park(job, until: .now + wait)
                    } else {
                        // Too many parked already: this one waits in place.
                        _ = await pauseUnlessShuttingDown(wait)
                        lane.park(job, until: .now)
                    }
                case .handedBack:
                    // Uncommitted: redone after the restart.
                    lane.finished(key)
                }
            }
        }
    }

    /// What one attempt at a change left for its lane.
    enum AttemptResult: Sendable {
        /// Done (processed, superseded or given up): record it.
        case finished(ChangeOutcome)
        /// Failed in a passing way within the retry budget: try again after this wait.
        case retry(Duration)
        /// Shutting down: the change is handed back, uncommitted.
        case handedBack
    }

    /// One attempt: fetches, verifies and stores what the change needs. A superseded change is
    /// completed without reading the registry.
    func attempt(_ job: inout LaneJob, superseded: Bool, lane: LaneQueue) async -> AttemptResult {
        guard let change = job.change else {
            return .finished(.notAChange(DeadLetter(reason: "malformed_message", message: "not a change message: \(job.decodingError ?? "")", attempts: 1)))
        }
        if superseded {
            return .finished(.change(change, processed: ProcessedChange(outcome: .superseded), deadLetter: nil, attempts: job.attempts))
        }
        job.attempts += 1
        let started = job.firstAttempt ?? .now
        job.firstAttempt = started
        let key = job.message.key ?? []
        do {
            let processed = try await cancelledByGracefulShutdown { [processor] () async throws(ProcessingFailure) -> ProcessedChange in
                try await processor.process(change, supersession: lane.supersession(of: key))
            }
            var deadLetter: DeadLetter?
            if !processed.failedVersions.isEmpty {
                let versions = processed.failedVersions.sorted { $0.key < $1.key }
                // Tarballs refused by verification after a second download, or (SIGNATURE_POLICY=require)
                // a latest version whose signature is not verified.
                deadLetter = DeadLetter(
                    reason: versions[0].value,
                    message: "versions refused: " + versions.map { "\($0.key) (\($0.value))" }.joined(separator: ", "),
                    attempts: job.attempts
                )
            }
            return .finished(.change(change, processed: processed, deadLetter: deadLetter, attempts: job.attempts))
        } catch {
            if Task.isShuttingDownGracefully || Task.isCancelled { return .handedBack }
            let failure = error as? ProcessingFailure ?? ProcessingFailure(code: .unexpected, message: "\(error)", isRetriable: true)
            if failure.isRetriable, ContinuousClock.now - started < settings.processingRetryMax {
                metrics.retry(reason: failure.code.description)
                let wait = job.backoff.next(retryAfter: failure.retryAfter)
                logger.warning(
                    "Change failed; parked before the next attempt",
                    metadata: ["npm.seq": "\(change.seq)", "npm.id": "\(change.id)", "error": "\(failure)", "attempt": "\(job.attempts)", "wait": "\(wait)"]
                )
                return .retry(wait)
            }
            return .finished(.change(change, processed: nil, deadLetter: DeadLetter(reason: failure.code.description, message: failure.message, attempts: job.attempts), attempts: job.attempts))
        }
    }
}
