import CoreMetrics
import Logging
import Metrics
import MirrorConfig
import MirrorKafka
import MirrorRuntime
import NPMRegistry
import ServiceLifecycle
import Synchronization
import MirrorStore

/// What the follower and the watchdog share: the last acknowledged seq and the last `update_seq` seen.
public final class ProducerProgress: Sendable {
    private struct State {
        var acknowledged: Int64?
        var registryUpdateSeq: Int64?
    }
    private let state = Mutex(State())

    public init() {}

    public var acknowledgedSeq: Int64? { state.withLock { $0.acknowledged } }
    public var registryUpdateSeq: Int64? { state.withLock { $0.registryUpdateSeq } }

    func acknowledged(_ seq: Int64) { state.withLock { $0.acknowledged = seq } }
    func registry(updateSeq: Int64) { state.withLock { $0.registryUpdateSeq = updateSeq } }
}

/// Polls the changes feed from a seq and produces every change to the topic, one page at a time.
///
/// A page's changes are sent as one batch; only once the broker has acknowledged every message is
/// the checkpoint written and `since` moved past the page. A failed fetch or send is retried with
/// backoff (honouring `Retry-After`), so a crash or a restart repeats at most the unacknowledged page.
struct ChangesFollower: Sendable {
    struct Settings: Sendable {
        var topic: String
        var limit: Int
        var pollInterval: Duration
        var pollIntervalMax: Duration
        var seqResetPolicy: MirrorConfiguration.SeqResetPolicy
        /// Stop once the acknowledged seq reaches the registry's `update_seq` as it was at start.
        var exitWhenCaughtUp: Bool
    }

    enum Outcome: Sendable {
        /// Caught up (with `exitWhenCaughtUp`) or asked to shut down gracefully.
        case finished(acknowledged: Int64)
    }

    let settings: Settings
    let feed: ReplicateClient
    let producer: KafkaProducer
    let checkpoints: CheckpointDirectory
    let progress: ProducerProgress
    let metrics: ProducerMetrics
    let logger: Logger

    func run(from start: ResumePoint) async throws -> Outcome {
        var since = start.seq
        var feedReset = start.feedReset
        var idle = Backoff(base: settings.pollInterval, cap: settings.pollIntervalMax)
        var failures = Backoff(base: settings.pollInterval, cap: settings.pollIntervalMax)
        var resetEpisode: Int64?
        progress.acknowledged(since)
        metrics.lastAcknowledgedSeq.record(since)
        if start.source == .registryHead || start.source == .configuredSeq {
            // Pin the start, so a restart before the first page resumes here rather than at a later head.
            try await checkpoints.writeProducer(.init(updateSeq: since), lastMessage: nil)
        }

        let target: Int64? = settings.exitWhenCaughtUp ? try await retrying(&failures, "read the registry head") { try await feed.root().updateSeq } : nil
        if let target {
            metrics.registryHead(target, progress: progress)
            logger.info("Following until caught up", metadata: ["npm.seq": "\(since)", "npm.update_seq": "\(target)"])
        }

        // The next page is fetched while the current one is being produced (pages are read ahead by
        // one, never produced or checkpointed ahead): the registry's latency and the broker's
        // acknowledgements overlap instead of adding up.
        var readAhead: (since: Int64, task: Task<ChangesPage, any Error>)?
        defer { readAhead?.task.cancel() }
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if let target, since >= target { break }
            let started = ContinuousClock.now
            var prefetched: ChangesPage?
            if let ahead = readAhead {
                readAhead = nil
                if ahead.since == since { prefetched = try? await ahead.task.value } else { ahead.task.cancel() }
            }
            let fetched: ChangesPage?
            if let prefetched {
                fetched = prefetched
            } else {
                fetched = try await retrying(&failures, "fetch a changes page", { [since] in try await feed.changes(since: since, limit: settings.limit) })
            }
            guard let page = fetched else { break }
            metrics.pollDuration.record(duration: ContinuousClock.now - started)
            for skipped in page.skipped {
                metrics.skipped(reason: skipped.reason)
                logger.warning("Feed result skipped", metadata: ["reason": "\(skipped.reason)", "npm.since": "\(since)", "result": "\(skipped.excerpt)"])
            }

            // Results at or below `since` mean the feed went backwards under us.
            let fresh = page.changes.filter { $0.seq > since }
            if fresh.count < page.changes.count {
                let stale = page.changes.count - fresh.count
                logger.error("SEQ RESET: the feed returned \(stale) results at or below since=\(since); they are not produced again")
                metrics.seqResets.increment()
            }

            if fresh.isEmpty {
                // An empty page: are we at the head, or has the feed been reset below us?
                if let head = try await retrying(&failures, "read the registry head", { try await feed.root().updateSeq }) {
                    metrics.registryHead(head, progress: progress)
                    if head < since {
                        if resetEpisode != head {
                            resetEpisode = head
                            metrics.seqResets.increment()
                            logger.error(
                                "SEQ RESET: the registry's update_seq went backwards",
                                metadata: ["npm.update_seq": "\(head)", "npm.since": "\(since)", "policy": "\(settings.seqResetPolicy.rawValue)"]
                            )
                        }
                        if settings.seqResetPolicy == .restartFromHead {
                            since = head
                            feedReset = true
                            try await checkpoints.writeProducer(.init(updateSeq: since, feedReset: true), lastMessage: nil)
                            progress.acknowledged(since)
                            logger.warning("Following the feed from its new head", metadata: ["npm.seq": "\(since)"])
                            continue
                        }
                    } else {
                        resetEpisode = nil
                    }
                    if let target, head <= since, since < target {
                        // The head moved below the target meanwhile (a reset): nothing more to wait for.
                        break
                    }
                }
                if page.lastSeq > since, page.changes.isEmpty {
                    // An empty page that still moves on (gaps): take it.
                    since = page.lastSeq
                    continue
                }
                guard await pauseUnlessShuttingDown(idle.next()) else { break }
                continue
            }
            idle.reset()

            let readAt = Timestamp.now()
            let messages = fresh.map { change in
                KafkaProducerMessage(topic: settings.topic, key: change.id, value: ChangeMessage(change, readAt: readAt).jsonBytes)
            }
            let lastSeq = max(page.lastSeq, fresh.last!.seq)
            if fresh.count >= settings.limit / 2, target.map({ lastSeq < $0 }) ?? true {
                // A full page: more is likely waiting.
                readAhead = (lastSeq, Task { [feed, limit = settings.limit] in try await feed.changes(since: lastSeq, limit: limit) })
            }
            guard (try await retrying(&failures, "produce a page of \(messages.count) changes", { try await producer.send(messages) })) != nil else { break }

            try await checkpoints.writeProducer(.init(updateSeq: lastSeq, feedReset: feedReset ? true : nil), lastMessage: messages.last?.value)
            since = lastSeq
            progress.acknowledged(since)
            metrics.changesProduced.increment(by: messages.count)
            metrics.lastAcknowledgedSeq.record(since)
            logger.debug("Page acknowledged", metadata: ["npm.seq": "\(since)", "changes": "\(messages.count)"])
        }
        return .finished(acknowledged: since)
    }

    /// Runs `operation` until it succeeds, waiting with backoff after each failure. Returns nil when
    /// the task is cancelled or the service asked to shut down before it succeeded.
    /// The follower's retries: one backoff across its requests; each failure counted by reason (a
    /// broker's refusal also as a page to send again). The page in flight is never cancelled by a
    /// graceful shutdown: it is finished and checkpointed first.
    private func retrying<T: Sendable>(
        _ backoff: inout Backoff,
        _ what: String,
        _ operation: @escaping @Sendable () async throws -> T
    ) async throws -> T? {
        try await MirrorRuntime.retrying(
            what, backoff: &backoff, logger: logger,
            count: { [metrics] error in
                metrics.failure(reason: (error as? RegistryError)?.code.description ?? (error as? KafkaError)?.shortDescription ?? "other")
                // Only the broker's answers are Kafka errors: a page that has to be sent again.
                if error is KafkaError { metrics.pagesRetried.increment() }
            },
            cancelledByShutdown: false,
            operation
        )
    }
}
