import Foundation
import CoreMetrics
import Logging
import MirrorRuntime
import MirrorKafka
import MirrorRecords
import MirrorStore
import NPMRegistry
import ServiceLifecycle

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
    init(
        settings: Settings,
        consumer: KafkaConsumer,
        producer: KafkaProducer,
        processor: ChangeProcessor,
        records: any RecordStore,
        store: PackageStore,
        checkpoints: CheckpointDirectory,
        metrics: ConsumerMetrics,
        logger: Logger
    ) {
        let state = ConsumerState()
        self.settings = settings
        self.consumer = consumer
        self.processor = processor
        self.records = records
        self.store = store
        self.state = state
        self.metrics = metrics
        self.logger = logger
        self.recordStep = RecordStep(
            records: records, producer: producer, deadLetterTopic: settings.deadLetterTopic, eventsTopic: settings.eventsTopic,
            state: state, metrics: metrics, logger: logger
        )
        let lanes = (0..<max(1, settings.concurrency)).map { _ in LaneQueue(maxParked: settings.maxParkedPerLane) }
        self.lanes = lanes
        self.committer = OffsetCommitter(
            state: state, group: consumer, lanes: lanes, checkpoints: checkpoints, metrics: metrics, logger: logger)
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
                guard let epoch = state.received(message, seq: job.change?.feedSeq) else { continue }
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
}

extension ChangesConsumerService {
    public var progress: ConsumerProgress {
        var progress = state.progress
        progress.parked = lanes.reduce(0) { $0 + $1.parkedCount }
        return progress
    }
}
