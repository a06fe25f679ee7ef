import Foundation
import CoreMetrics
import Logging
import MirrorBlocking
import MirrorKafka
import MirrorRecords
import MirrorStore
import NPMRegistry
import ServiceLifecycle
import ServiceScope

/// A member of the consumer group: reads changes, processes them (``ChangeProcessor``), records them
/// (``RecordStep``), dead-letters what cannot be processed, and commits offsets
/// (``OffsetCommitter``) only through changes that are fully done.
///
/// Each message goes to the lane its key hashes to, so one package's changes stay in order; lanes
/// run in parallel. Within a lane (``LaneQueue``) a package that keeps failing is parked while the
/// others go on, and a change is superseded by a later change of its package already received.
public struct ChangesConsumerService: Service {
    public struct Settings: Sendable {
        public var topic: String
        public var deadLetterTopic: String
        public var eventsTopic: String
        public var concurrency: Int
        /// Stop once the whole group has consumed the topic to its end and nothing happened here for
        /// this long (``IdleRule``).
        public var exitWhenIdle: Duration?
        /// With `exitWhenIdle`: how long the group may stand still, undrained, while this member has
        /// nothing to do, before the member gives up with an error.
        public var groupWaitBound: Duration
        /// How long a change is retried after retriable failures before it is dead-lettered.
        public var processingRetryMax: Duration
        public var commitInterval: Duration = .milliseconds(500)
        /// How often a `Progress` line is logged while there is work (changes done, or a lag).
        public var progressInterval: Duration = .seconds(60)
        /// More messages than this in flight pauses fetching, until half of them are done.
        ///
        /// A guard for when the lanes cannot keep up (a database that is down), not a routine brake:
        /// librdkafka drops what it has fetched for a partition when it is paused and fetches it again
        /// after the resume, and the lanes wait for that. With 128 (the old default for 8 lanes) the
        /// consumer paused several times a second and the metadata-only benchmark ran 1.5 × slower. A
        /// change message in flight costs its few hundred bytes.
        public var maxInFlight: Int
        /// Changes that may be parked per lane; beyond that a failing change waits in place.
        public var maxParkedPerLane = 32
        /// The stall watchdog (``StallRule``): with lag and partitions, no change completed for this
        /// long and nothing parked for a later retry ends the run with ``ConsumerStalled``.
        public var stallTimeout: Duration = .seconds(15 * 60)
        /// How often the stall watchdog looks.
        public var stallCheckInterval: Duration = .seconds(5)
        /// After a stall, how long the run may take to end (its stuck changes cancelled) before the
        /// process is ended at once with exit code 70; nil: never (tests, which run in-process).
        public var stallExitGrace: Duration?

        public init(
            topic: String,
            deadLetterTopic: String,
            eventsTopic: String,
            concurrency: Int,
            exitWhenIdle: Duration?,
            processingRetryMax: Duration,
            sessionTimeout: Duration = .seconds(45)
        ) {
            self.topic = topic
            self.deadLetterTopic = deadLetterTopic
            self.eventsTopic = eventsTopic
            self.concurrency = concurrency
            self.exitWhenIdle = exitWhenIdle
            self.groupWaitBound = IdleRule.waitBound(sessionTimeout: sessionTimeout, idle: exitWhenIdle ?? .zero)
            self.processingRetryMax = processingRetryMax
            self.maxInFlight = max(1024, concurrency * 128)
        }
    }

    /// The group was not drained within ``Settings/groupWaitBound`` (with `--exit-when-idle`).
    public struct GroupNotDrained: Error, CustomStringConvertible {
        public let description: String
    }

    /// The stall watchdog gave up: this member had work and completed nothing for
    /// ``Settings/stallTimeout``. The process exits non-zero so its supervisor restarts it.
    public struct ConsumerStalled: Error, CustomStringConvertible {
        public let description: String
    }

    public var settings: Settings
    let consumer: KafkaConsumer
    let processor: ChangeProcessor
    let records: any RecordStore
    let store: PackageStore
    let recordStep: RecordStep
    let committer: OffsetCommitter
    let metrics: ConsumerMetrics
    let logger: Logger
    let state: ConsumerState
    let lanes: [LaneQueue]

    /// The service uses `consumer` and `producer` but does not close them: whoever made them does.
    public init(
        settings: Settings,
        consumer: KafkaConsumer,
        producer: KafkaProducer,
        processor: ChangeProcessor,
        records: any RecordStore,
        store: PackageStore,
        checkpoints: CheckpointDirectory,
        logger: Logger
    ) {
        let state = ConsumerState()
        self.settings = settings
        self.consumer = consumer
        self.processor = processor
        self.records = records
        self.store = store
        self.state = state
        // One set of metric handles for the service and its processor.
        self.metrics = processor.metrics
        self.logger = logger
        self.recordStep = RecordStep(
            records: records, producer: producer, deadLetterTopic: settings.deadLetterTopic, eventsTopic: settings.eventsTopic,
            state: state, metrics: processor.metrics, logger: logger
        )
        let lanes = (0..<max(1, settings.concurrency)).map { _ in LaneQueue(maxParked: settings.maxParkedPerLane) }
        self.lanes = lanes
        self.committer = OffsetCommitter(
            state: state, checkpoints: checkpoints, metrics: processor.metrics, logger: logger,
            parked: { lanes.reduce(0) { $0 + $1.parkedCount } }
        ) { offsets in
            try await consumer.commit(processedThrough: offsets)
        }
    }

    public func run() async throws {
        let leftovers = (try? await BlockingWork.run { [store] in try store.cleanScratch() }) ?? []
        if !leftovers.isEmpty { logger.notice("Removed \(leftovers.count) scratch files left by an earlier run") }
        guard try await retrying("prepare the record store", policy: .startUp, logger: logger, { try await records.prepare() }) != nil else { return }
        await processor.signatures.compareWithRegistry(processor.packages, metrics: metrics, logger: logger)
        consumer.setRevokeHandler { [lanes, state, metrics] partitions in
            // Inside the rebalance, before the partitions are given up: their queued and parked
            // changes leave the lanes (the next owner does them), and what is done is committed.
            let revoked = Set(partitions)
            let dropped = lanes.reduce(0) { $0 + $1.drop(partitions: revoked) }
            if dropped > 0 { metrics.revokedChangesDropped.increment(by: dropped) }
            return state.tracker { $0.revoke(partitions) }
        }
        defer { consumer.setRevokeHandler(nil) }
        try consumer.subscribe(topics: [settings.topic])
        logger.notice("Consumer joined the group", metadata: ["kafka.topic": "\(settings.topic)", "kafka.group": "\(consumer.groupID)"])

        var ending: (any Error)?
        await withTaskGroup(of: Void.self) { group in
            // The committer is finished, not cancelled: it serves every request made before the end.
            group.addTask { await committer.run() }
            await withTaskGroup(of: Void.self) { helpers in
                helpers.addTask { await watchRebalances() }
                helpers.addTask { await commitPeriodically() }
                helpers.addTask { await watchForStall() }
                await withGracefulShutdownHandler {
                    await withTaskGroup(of: Void.self) { laneGroup in
                        for lane in lanes {
                            laneGroup.addTask { await work(lane) }
                        }
                        do {
                            try await pollLoop()
                        } catch {
                            ending = error
                            // On an error the lanes' work is handed back: uncommitted, redone after a restart.
                            for lane in lanes { lane.abandon() }
                            // A stalled member's running changes are what it is stuck on: cancelled.
                            if error is ConsumerStalled { laneGroup.cancelAll() }
                        }
                        // No more messages: the lanes finish what they hold (or drop it, on shutdown).
                        for lane in lanes { lane.close() }
                    }
                } onGracefulShutdown: {
                    for lane in lanes { lane.abandon() }
                }
                helpers.cancelAll()
            }
            await committer.commitDone()
            committer.finish()
        }
        logger.notice("Consumer stopped", metadata: ["npm.seq": "\(state.tracker { $0.highestCompleteSeq }.map(String.init) ?? "none")"])
        if let ending { throw ending }
    }

    // MARK: Polling

    private func pollLoop() async throws {
        var paused = false
        var idleRule = settings.exitWhenIdle.map { IdleRule(idle: $0, waitBound: settings.groupWaitBound) }
        var idleCheckDue = ContinuousClock.now
        var gaps = OffsetGaps()
        var generation = consumer.assignmentGeneration
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            if let stalled = state.stalled { throw stalled }
            let inFlight = state.tracker { $0.inFlight }
            metrics.inFlight.record(inFlight)
            metrics.parked.record(lanes.reduce(0) { $0 + $1.parkedCount })
            if !paused, inFlight >= settings.maxInFlight {
                try? consumer.pause(Array(consumer.assignment))
                paused = true
            } else if paused, inFlight < settings.maxInFlight / 2 {
                try? consumer.resume(Array(consumer.assignment))
                paused = false
            }
            let messages = try await consumer.poll(maxMessages: paused ? 1 : 500, timeout: .milliseconds(100))
            if consumer.assignmentGeneration != generation {
                generation = consumer.assignmentGeneration
                gaps.forgetAll()
            }
            await checkGaps(messages, &gaps)
            for message in messages {
                var job: LaneJob
                do {
                    let change = try ChangeMessage.decode(message.value)
                    job = LaneJob(message: message, change: change, decodingError: nil)
                } catch {
                    job = LaneJob(message: message, change: nil, decodingError: "\(error)")
                }
                guard let epoch = state.received(message, seq: job.change?.seq) else { continue }
                job.epoch = epoch
                lanes[Self.lane(for: message.key, count: lanes.count)].push(job)
            }
            if var rule = idleRule, messages.isEmpty, ContinuousClock.now >= idleCheckDue {
                idleCheckDue = ContinuousClock.now + .milliseconds(250)
                let decision = await checkIdle(&rule)
                idleRule = rule
                switch decision {
                case .keepGoing: break
                case .stop:
                    logger.notice("The group has consumed the whole topic and this member is idle; stopping", metadata: ["idle": "\(rule.idle)"])
                    return
                case .giveUp(let reason):
                    logger.error("Giving up waiting for the group", metadata: ["reason": "\(reason)"])
                    throw GroupNotDrained(description: "--exit-when-idle: \(reason)")
                }
            }
        }
    }

    /// The lane a key's messages go to: the same key, the same lane, so one package stays in order.
    static func lane(for key: [UInt8]?, count: Int) -> Int {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in key ?? [] {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
        }
        return Int(hash % UInt64(count))
    }

    /// Logs and counts the changes the topic no longer held when this member reached them.
    private func checkGaps(_ messages: [KafkaConsumerMessage], _ gaps: inout OffsetGaps) async {
        var found: [OffsetGaps.Gap] = []
        for message in messages {
            if let gap = gaps.observe(KafkaTopicPartition(topic: message.topic, partition: message.partition), offset: message.offset) { found.append(gap) }
        }
        // Where a partition's first message should be: the group's committed offset (0 when none).
        // When the broker cannot say now, it is asked again after the next poll.
        let unresolved = gaps.unresolved
        if !unresolved.isEmpty, let committed = try? await consumer.committedOffsets(for: unresolved) {
            for partition in unresolved {
                if let gap = gaps.resolve(partition, start: committed[partition] ?? 0) { found.append(gap) }
            }
        }
        for gap in found {
            metrics.missedChanges.increment(by: gap.count)
            logger.error(
                "Changes were deleted from the topic before this group consumed them: the mirror misses them",
                metadata: [
                    "kafka.partition": "\(gap.partition)", "kafka.offsets": "\(gap.from)..<\(gap.to)", "count": "\(gap.count)",
                    "hint": "the topic's retention is shorter than the backlog: set retention.ms=-1 on it (README, Operations) and replay the missing changes with the producer (UPDATE_SEQ)",
                ]
            )
        }
    }

    private func checkIdle(_ rule: inout IdleRule) async -> IdleRule.Decision {
        let now = ContinuousClock.now
        let busy = state.tracker({ $0.inFlight }) > 0 || lanes.contains { $0.parkedCount > 0 } || now - state.lastActivity < rule.idle
        // The broker is asked only when this member has nothing to do.
        var positions: [KafkaGroupPosition]?
        if !busy {
            positions = try? await consumer.groupPositions(topic: settings.topic)
            if let positions { metrics.lag.record(positions.reduce(0) { $0 + $1.uncommitted }) }
        }
        return rule.observe(now: now, busy: busy, positions: positions)
    }

    /// Assignments count as activity. Revocations need nothing here: the revoke handler (set in
    /// ``run()``) dropped their work and committed what was done, inside the rebalance.
    private func watchRebalances() async {
        for await event in consumer.rebalanceEvents {
            if case .assigned = event { state.assigned() }
        }
    }

    private func commitPeriodically() async {
        var lagDue = ContinuousClock.now
        var lag: Int64?
        var report = ProgressLine(since: .now, last: progress)
        while !Task.isCancelled {
            try? await Task.sleep(for: settings.commitInterval)
            await committer.commitDone()
            let now = ContinuousClock.now
            if now >= lagDue {
                lagDue = now + .seconds(10)
                if let partitions = try? await consumer.lag() {
                    let total = partitions.values.reduce(0, +)
                    metrics.lag.record(total)
                    lag = total
                }
            }
            if now - report.since >= settings.progressInterval {
                report.log(progress, lag: lag, now: now, to: logger)
            }
        }
    }

    // MARK: Lanes

    /// One lane's worker: runs one change at a time, overlapping each change's record step with the
    /// next change's processing (records are still written one at a time, in the lane's order).
    private func work(_ lane: LaneQueue) async {
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
                try await processor.process(change, isSuperseded: { lane.hasLaterChange(of: key) })
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

/// What a consumer has done so far, for progress lines and summaries.
/// The consumer's periodic `Progress` line: what was done since the last one and how far behind
/// the group is, so a long backfill says what it is doing without a dashboard.
struct ProgressLine {
    var since: ContinuousClock.Instant
    var last: ConsumerProgress

    /// Logs a line when changes were done since the last one, or the topic holds changes not yet
    /// consumed; an idle consumer with nothing behind it stays quiet.
    mutating func log(_ progress: ConsumerProgress, lag: Int64?, now: ContinuousClock.Instant, to logger: Logger) {
        let done = progress.changesProcessed - last.changesProcessed
        let seconds = (now - since) / .seconds(1)
        defer { (since, last) = (now, progress) }
        guard done > 0 || (lag ?? 0) > 0 else { return }
        let rate = seconds > 0 ? Double(done) / seconds : 0
        var metadata: Logger.Metadata = [
            "changes": "\(progress.changesProcessed)",
            "changes_per_second": "\(Self.oneDecimal(rate))",
            "tarballs": "\(progress.tarballsStored)",
            "tarball_mb": "\(Self.oneDecimal(Double(progress.tarballBytes) / 1e6))",
            "in_flight": "\(progress.inFlight)",
            "parked": "\(progress.parked)",
        ]
        if let lag {
            metadata["lag"] = "\(lag)"
            if rate > 0 { metadata["eta_hours"] = "\(Self.oneDecimal(Double(lag) / rate / 3600))" }
        }
        if let seq = progress.highestCompleteSeq { metadata["npm.seq"] = "\(seq)" }
        logger.notice("Progress", metadata: metadata)
    }

    private static func oneDecimal(_ value: Double) -> String {
        "\((value * 10).rounded() / 10)"
    }
}

public struct ConsumerProgress: Sendable, Hashable {
    public var changesProcessed = 0
    public var tarballsStored = 0
    public var tarballBytes: Int64 = 0
    /// The highest seq processed with everything before it in its partition.
    public var highestCompleteSeq: Int64?
    public var inFlight = 0
    /// Changes waiting out a backoff while their lanes go on.
    public var parked = 0
}

extension ChangesConsumerService {
    public var progress: ConsumerProgress {
        var progress = state.progress
        progress.parked = lanes.reduce(0) { $0 + $1.parkedCount }
        return progress
    }
}

// MARK: Stall watchdog

extension ChangesConsumerService {
    /// Looks every ``Settings/stallCheckInterval`` whether this member is stuck (``StallRule``);
    /// when it is, logs what each lane waits on and makes the poll loop end the run with
    /// ``ConsumerStalled``. Keeps `npm_mirror_consumer_seconds_since_completed` up to date.
    func watchForStall() async {
        var rule = StallRule(timeout: settings.stallTimeout, start: .now)
        let interval = min(settings.stallCheckInterval, settings.stallTimeout / 4)
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard !Task.isCancelled else { return }
            let now = ContinuousClock.now
            let lag = (try? await consumer.lag())?.values.reduce(0, +)
            let decision = rule.observe(
                now: now,
                lastCompleted: state.lastCompleted,
                lastAssigned: state.lastAssigned,
                assigned: !consumer.assignment.isEmpty,
                lag: lag,
                parked: lanes.reduce(0) { $0 + $1.parkedCount }
            )
            metrics.secondsSinceCompleted.record(rule.stalledFor(now: now) / .seconds(1))
            guard case .stalled(let waited) = decision else { continue }
            let waits = lanes.enumerated().compactMap { index, lane -> String? in
                guard let (job, since) = lane.running else { return nil }
                return "lane \(index): \(job.change.map { "\($0.id) (seq \($0.seq))" } ?? "an undecodable message") at offset \(job.message.offset) of partition \(job.message.partition), attempt \(job.attempts + 1), running for \(now - since)"
            }
            let waitingOn = waits.isEmpty ? "no change is running: the lanes are empty while the group has lag (fetching is stuck)" : waits.joined(separator: "; ")
            logger.critical(
                "No change completed while there was work: the consumer is stuck; exiting so its supervisor restarts it",
                metadata: ["waited": "\(waited)", "lag": "\(lag ?? -1)", "waiting_on": "\(waitingOn)", "in_flight": "\(state.tracker { $0.inFlight })"]
            )
            state.stall(ConsumerStalled(description: "no change completed for \(waited) with a lag of \(lag ?? -1) (CONSUMER_STALL_TIMEOUT); waiting on: \(waitingOn)"))
            guard let grace = settings.stallExitGrace else { return }
            // This task is cancelled when the run ends; a wait that ignores cancellation keeps it going.
            try? await Task.sleep(for: grace)
            guard !Task.isCancelled else { return }
            logger.critical("The stalled consumer did not stop within \(grace); exiting now", metadata: ["waiting_on": "\(waitingOn)"])
            exit(70)
        }
    }
}

/// The stall watchdog's rule, a pure function of what it observes.
///
/// Its clock runs from the latest of: the last completed change, the last assignment, and the last
/// time this member had nothing to wait for (no partitions, no lag, or a parked change whose retry
/// is in the future — those waits are legitimate and bounded by `PROCESSING_RETRY_MAX`). When the
/// clock passes `timeout`, the member is stalled.
struct StallRule: Sendable {
    enum Decision: Sendable, Equatable {
        case fine
        case stalled(Duration)
    }

    let timeout: Duration
    /// The last time there was nothing to wait for.
    private(set) var settled: ContinuousClock.Instant
    private var reference: ContinuousClock.Instant

    init(timeout: Duration, start: ContinuousClock.Instant) {
        self.timeout = timeout
        self.settled = start
        self.reference = start
    }

    /// How long the clock has run at `now`, as of the last observation.
    func stalledFor(now: ContinuousClock.Instant) -> Duration {
        max(.zero, now - reference)
    }

    /// `lag` is nil when the broker could not say: then nothing is concluded either way.
    mutating func observe(
        now: ContinuousClock.Instant,
        lastCompleted: ContinuousClock.Instant,
        lastAssigned: ContinuousClock.Instant,
        assigned: Bool,
        lag: Int64?,
        parked: Int
    ) -> Decision {
        if !assigned || lag == 0 || parked > 0 { settled = now }
        reference = max(settled, lastCompleted, lastAssigned)
        guard lag != nil, now - reference >= timeout else { return .fine }
        return .stalled(now - reference)
    }
}
