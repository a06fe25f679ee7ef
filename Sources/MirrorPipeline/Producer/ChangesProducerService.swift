import CoreMetrics
import Logging
import MirrorRuntime
import MirrorConfig
import MirrorKafka
import NPMRegistry
import ServiceLifecycle
import MirrorStore

/// The changes producer: makes sure the topic exists, resumes, follows the feed, and restarts the
/// follower when the lag watchdog says so.
///
/// On graceful shutdown (SIGTERM/SIGINT through the service group) the page in flight is finished,
/// acknowledged and checkpointed, and `run()` returns. The Kafka clients it is given stay open: whoever
/// made them closes them (``ProducerApplication`` does, after `run()`). During start-up
/// (the topic, the resume point) a shutdown ends the retries at once; a request to the cluster
/// already in flight is waited for, and takes at most ``startUpRequestTimeout``.
public struct ChangesProducerService: Service {
    public struct Settings: Sendable {
        public var topic: String
        public var partitions: Int
        public var replicationFactor: Int
        public var startSequence: MirrorConfiguration.StartSequence
        public var follower: ChangesFollowerSettings
        public var lagThreshold: Int
        public var watchdogInterval: Duration
        public var watchdogStallChecks: Int
        public var watchdogMaxRestarts: Int
        public var watchdogRestartWindow: Duration

        public init(configuration: MirrorConfiguration, exitWhenCaughtUp: Bool) {
            topic = configuration.kafka.topic
            partitions = configuration.kafka.topicPartitions
            replicationFactor = configuration.kafka.replicationFactor
            startSequence = configuration.startSequence
            follower = ChangesFollowerSettings(
                limit: configuration.producer.changesLimit,
                pollInterval: configuration.producer.pollInterval,
                pollIntervalMax: configuration.producer.pollIntervalMax,
                seqResetPolicy: configuration.producer.seqResetPolicy,
                exitWhenCaughtUp: exitWhenCaughtUp
            )
            lagThreshold = configuration.lagThreshold
            watchdogInterval = configuration.producer.watchdogInterval
            watchdogStallChecks = configuration.producer.watchdogStallChecks
            watchdogMaxRestarts = configuration.producer.watchdogMaxRestarts
            watchdogRestartWindow = configuration.producer.watchdogRestartWindow
        }
    }

    /// The follower's part of the settings.
    public struct ChangesFollowerSettings: Sendable {
        public var limit: Int
        public var pollInterval: Duration
        public var pollIntervalMax: Duration
        public var seqResetPolicy: MirrorConfiguration.SeqResetPolicy
        public var exitWhenCaughtUp: Bool
    }

    public let settings: Settings
    public let feed: ReplicateClient
    public let producer: KafkaProducer
    public let admin: KafkaAdmin
    public let checkpoints: CheckpointDirectory
    public let progress: ProducerProgress
    private let metrics: ProducerMetrics
    private let logger: Logger

    public init(
        settings: Settings,
        feed: ReplicateClient,
        producer: KafkaProducer,
        admin: KafkaAdmin,
        checkpoints: CheckpointDirectory,
        progress: ProducerProgress = ProducerProgress(),
        metrics: any MetricsFactory,
        logger: Logger
    ) {
        self.settings = settings
        self.feed = feed
        self.producer = producer
        self.admin = admin
        self.checkpoints = checkpoints
        self.progress = progress
        self.metrics = ProducerMetrics(factory: metrics)
        self.logger = logger
    }

    /// How long one start-up request to the cluster (topic metadata, watermarks, the partitions' last
    /// messages) may take before it is retried. librdkafka's calls cannot be interrupted, so this is
    /// also how long a graceful shutdown can wait during an outage at start-up.
    public static let startUpRequestTimeout: Duration = .seconds(10)

    public func run() async throws {
        defer { logger.info("Producer stopped", metadata: ["npm.seq": "\(progress.acknowledgedSeq.map(String.init) ?? "none")"]) }
        guard try await ensureTopic() else { return }
        var watchdog = LagWatchdogPolicy(
            threshold: Int64(settings.lagThreshold),
            stallChecks: settings.watchdogStallChecks,
            maxRestarts: settings.watchdogMaxRestarts,
            window: settings.watchdogRestartWindow
        )
        while !Task.isShuttingDownGracefully {
            guard let start = try await resumePoint() else { break }
            logger.notice("Producer resumes", metadata: ["npm.seq": "\(start.seq)", "resume.source": "\(start.source.rawValue)"])
            let outcome = try await runOnce(from: start, watchdog: &watchdog)
            switch outcome {
            case .finished:
                return
            case .restart(let reason):
                metrics.watchdogRestarts.increment()
                logger.error("Watchdog restarts the producer: \(reason)", metadata: lagMetadata(watchdog))
            case .giveUp(let reason):
                logger.critical("Watchdog gives up: \(reason)", metadata: lagMetadata(watchdog))
                throw ProducerGaveUp(reason: reason)
            }
        }
    }

    private enum RunOutcome: Sendable {
        case finished
        case restart(String)
        case giveUp(String)
    }

    /// Runs the follower and the watchdog side by side until one of them ends the round.
    private func runOnce(from start: ResumePoint, watchdog: inout LagWatchdogPolicy) async throws -> RunOutcome {
        let follower = ChangesFollower(
            settings: .init(
                topic: settings.topic,
                limit: settings.follower.limit,
                pollInterval: settings.follower.pollInterval,
                pollIntervalMax: settings.follower.pollIntervalMax,
                seqResetPolicy: settings.follower.seqResetPolicy,
                exitWhenCaughtUp: settings.follower.exitWhenCaughtUp
            ),
            feed: feed,
            producer: producer,
            checkpoints: checkpoints,
            progress: progress,
            metrics: metrics,
            logger: logger
        )
        let policy = watchdog
        let (outcome, updatedPolicy) = try await withThrowingTaskGroup(of: (RunOutcome, LagWatchdogPolicy?).self) { group in
            group.addTask {
                _ = try await follower.run(from: start)
                return (.finished, nil)
            }
            group.addTask {
                var policy = policy
                let verdict = await watch(&policy)
                return (verdict, policy)
            }
            var result = try await group.next()!
            group.cancelAll()
            // The other child ends on cancellation; a policy from the watchdog is kept either way.
            while let other = try await group.next() {
                if result.1 == nil, let policy = other.1 { result.1 = policy }
            }
            return (result.0, result.1)
        }
        if let updatedPolicy { watchdog = updatedPolicy }
        return outcome
    }

    /// Checks the lag every interval until the policy asks for a restart; returns `.finished` when cancelled.
    private func watch(_ policy: inout LagWatchdogPolicy) async -> RunOutcome {
        while !Task.isCancelled {
            do {
                try await Task.sleep(for: settings.watchdogInterval)
            } catch {
                return .finished
            }
            let updateSeq: Int64
            do {
                updateSeq = try await feed.root().updateSeq
            } catch {
                logger.warning("Watchdog could not read the registry's update_seq", metadata: ["error": "\(error)"])
                continue
            }
            metrics.registryHead(updateSeq, progress: progress)
            guard let acknowledged = progress.acknowledgedSeq else { continue }
            let verdict = policy.check(updateSeq: updateSeq, acknowledged: acknowledged, now: .now)
            metrics.lag.record(policy.lastLag ?? 0)
            logger.info(
                "Lag",
                metadata: ["npm.update_seq": "\(updateSeq)", "npm.seq": "\(acknowledged)", "lag": "\(policy.lastLag ?? 0)", "lag.initial": "\(policy.initialLag.map(String.init) ?? "-")"]
            )
            switch verdict {
            case .healthy: continue
            case .restart(let reason): return .restart(reason)
            case .giveUp(let reason): return .giveUp(reason)
            }
        }
        return .finished
    }

    /// Makes sure the topic exists, retrying while the cluster cannot be reached. False when a graceful
    /// shutdown came first.
    /// Configs of the changes topic when the producer creates it: changes are kept until the operator
    /// decides otherwise (`retention.ms=-1`). With the broker's default (7 days) a consumer group that
    /// takes longer over a backlog — a full backfill — would find its oldest changes deleted, and the
    /// mirror would miss them. One change is a few hundred bytes: all of npm is about a gigabyte.
    static let topicConfigs = ["retention.ms": "-1"]

    private func ensureTopic() async throws -> Bool {
        let outcome = try await retrying(
            "make sure the topic exists", policy: .startUp, logger: logger,
            isRetriable: { ($0 as? KafkaError)?.isRetriable ?? false }
        ) { [admin, settings] in
            try await admin.ensureTopic(
                settings.topic, partitions: settings.partitions, replicationFactor: settings.replicationFactor,
                configs: Self.topicConfigs, timeout: Self.startUpRequestTimeout
            )
        }
        switch outcome {
        case nil:
            return false
        case .created:
            logger.notice("Created the topic", metadata: ["kafka.topic": "\(settings.topic)", "kafka.partitions": "\(settings.partitions)"])
        case .alreadyExists(let count) where count != settings.partitions:
            logger.warning(
                "The topic exists with another partition count; going on with it",
                metadata: ["kafka.topic": "\(settings.topic)", "kafka.partitions": "\(count)", "configured": "\(settings.partitions)"]
            )
        case .alreadyExists:
            break
        }
        return true
    }

    /// Where to resume, retrying while the cluster or the registry cannot be reached. Nil when a
    /// graceful shutdown came first. A checkpoint that cannot be read is not retried: it is an error.
    private func resumePoint() async throws -> ResumePoint? {
        try await retrying(
            "work out where to resume", policy: .startUp, logger: logger,
            isRetriable: { !($0 is CheckpointError) }
        ) { [admin, settings, checkpoints, feed, logger] in
            let lastMessages = try await admin.lastMessages(topic: settings.topic, timeout: Self.startUpRequestTimeout)
            return try await ResumePoint.resolve(
                topicSeq: ResumePoint.highestSeq(in: lastMessages, logger: logger),
                checkpoint: try await BlockingWork.run { [checkpoints] in try checkpoints.readProducer() },
                configured: settings.startSequence,
                registryHead: { try await feed.root().updateSeq }
            )
        }
    }

    private func lagMetadata(_ policy: LagWatchdogPolicy) -> Logger.Metadata {
        [
            "lag": "\(policy.lastLag.map(String.init) ?? "-")",
            "npm.seq": "\(progress.acknowledgedSeq.map(String.init) ?? "-")",
            "npm.update_seq": "\(progress.registryUpdateSeq.map(String.init) ?? "-")",
        ]
    }
}

/// The watchdog restarted the follower too often: the process should exit for its supervisor.
public struct ProducerGaveUp: Error, CustomStringConvertible {
    public let reason: String
    public var description: String { "the lag watchdog gave up: \(reason)" }
}
