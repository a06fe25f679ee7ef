import CoreMetrics
import Foundation
import Logging
import MirrorKafka
import MirrorRecords
import MirrorStore
import NPMRegistry
import ServiceLifecycle
import Synchronization

/// A member of the consumer group: reads changes, processes them (``ChangeProcessor``), records them
/// (``RecordStore``), dead-letters what cannot be processed, and commits offsets only through changes
/// that are fully done.
///
/// Changes of one package are processed in order: each message goes to the lane its key hashes to.
/// Different packages run in parallel over `concurrency` lanes.
public struct ChangesConsumerService: Service {
    public struct Settings: Sendable {
        public var topic: String
        public var deadLetterTopic: String
        public var eventsTopic: String
        public var concurrency: Int
        /// Stop once every assigned partition is consumed to its end and nothing arrived for this long.
        public var exitWhenIdle: Duration?
        /// How long a change is retried after retriable failures before it is dead-lettered.
        public var processingRetryMax: Duration
        public var commitInterval: Duration = .milliseconds(500)
        /// More messages than this in flight pauses fetching, until half of them are done.
        ///
        /// A guard for when the lanes cannot keep up (a database that is down), not a routine brake:
        /// librdkafka drops what it has fetched for a partition when it is paused and fetches it again
        /// after the resume, and the lanes wait for that. With 128 (the old default for 8 lanes) the
        /// consumer paused several times a second and the metadata-only benchmark ran 1.5 × slower. A
        /// change message in flight costs its few hundred bytes.
        public var maxInFlight: Int

        public init(topic: String, deadLetterTopic: String, eventsTopic: String, concurrency: Int, exitWhenIdle: Duration?, processingRetryMax: Duration) {
            self.topic = topic
            self.deadLetterTopic = deadLetterTopic
            self.eventsTopic = eventsTopic
            self.concurrency = concurrency
            self.exitWhenIdle = exitWhenIdle
            self.processingRetryMax = processingRetryMax
            self.maxInFlight = max(1024, concurrency * 128)
        }
    }

    public let settings: Settings
    let consumer: KafkaConsumer
    let producer: KafkaProducer
    let processor: ChangeProcessor
    let records: any RecordStore
    let store: PackageStore
    let checkpoints: CheckpointDirectory
    let metrics: ConsumerMetrics
    let logger: Logger
    let state = ConsumerState()

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
        self.settings = settings
        self.consumer = consumer
        self.producer = producer
        self.processor = processor
        self.records = records
        self.store = store
        self.checkpoints = checkpoints
        // One set of metric handles for the service and its processor.
        self.metrics = processor.metrics
        self.logger = logger
    }

    public func run() async throws {
        let leftovers = (try? store.cleanScratch()) ?? []
        if !leftovers.isEmpty { logger.notice("Removed \(leftovers.count) scratch files left by an earlier run") }
        try await untilDone("prepare the record store") { try await records.prepare() }
        try consumer.subscribe(topics: [settings.topic])
        logger.notice("Consumer joined the group", metadata: ["kafka.topic": "\(settings.topic)", "kafka.group": "\(consumer.groupID)"])

        var continuations: [AsyncStream<KafkaConsumerMessage>.Continuation] = []
        var streams: [AsyncStream<KafkaConsumerMessage>] = []
        for _ in 0..<settings.concurrency {
            let (stream, continuation) = AsyncStream<KafkaConsumerMessage>.makeStream()
            streams.append(stream)
            continuations.append(continuation)
        }

        try await withThrowingTaskGroup(of: Void.self) { group in
            for stream in streams {
                group.addTask {
                    // Two steps per lane, overlapped: while one change's records are written, the next
                    // change is fetched and stored. Records are still written one change at a time, in
                    // the lane's order, and at most one processed change waits for them.
                    await withTaskGroup(of: Void.self) { recording in
                        for await message in stream {
                            // On shutdown, messages not started are handed back: uncommitted, done after the restart.
                            if Task.isShuttingDownGracefully {
                                state.abandon()
                                continue
                            }
                            guard let outcome = await process(message) else { continue }
                            await recording.next()
                            recording.addTask { await record(outcome, message: message) }
                        }
                    }
                }
            }
            group.addTask { await watchRebalances() }
            group.addTask { await commitPeriodically() }

            try await pollLoop(into: continuations)
            // Stop feeding the lanes; they finish what they hold (or hand it back, on shutdown).
            for continuation in continuations { continuation.finish() }
            while state.tracker({ $0.inFlight }) > 0, !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(20))
                if state.abandoned { break }
            }
            group.cancelAll()
        }
        await commitNow()
        await consumer.close()
        await producer.shutdown()
        logger.notice("Consumer stopped", metadata: ["npm.seq": "\(state.tracker { $0.highestCompleteSeq }.map(String.init) ?? "none")"])
    }

    // MARK: Polling

    private func pollLoop(into lanes: [AsyncStream<KafkaConsumerMessage>.Continuation]) async throws {
        var paused = false
        var idleCheckDue = ContinuousClock.now
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            let inFlight = state.tracker { $0.inFlight }
            metrics.inFlight.record(inFlight)
            if !paused, inFlight >= settings.maxInFlight {
                try? consumer.pause(Array(consumer.assignment))
                paused = true
            } else if paused, inFlight < settings.maxInFlight / 2 {
                try? consumer.resume(Array(consumer.assignment))
                paused = false
            }
            let messages = try await consumer.poll(maxMessages: paused ? 1 : 500, timeout: .milliseconds(100))
            for message in messages {
                let seq = try? ChangeMessage.decode(message.value).seq
                state.received(message, seq: seq)
                lanes[Self.lane(for: message.key, count: lanes.count)].yield(message)
            }
            if let idle = settings.exitWhenIdle, messages.isEmpty, ContinuousClock.now >= idleCheckDue {
                idleCheckDue = ContinuousClock.now + .milliseconds(250)
                if try await isIdle(for: idle) {
                    logger.notice("Consumed to the end and idle; stopping", metadata: ["idle": "\(idle)"])
                    return
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

    private func isIdle(for idle: Duration) async throws -> Bool {
        // Before the group has given this member partitions there is nothing to be idle about; a member
        // left without partitions (more members than partitions) may stop after a generous wait.
        let started = state.startedAt
        guard state.wasAssigned || ContinuousClock.now - started >= idle + .seconds(60) else { return false }
        guard ContinuousClock.now - state.lastActivity >= idle, state.tracker({ $0.inFlight }) == 0, state.tracker({ $0.committable().isEmpty }) else {
            return false
        }
        let lag = try await consumer.lag()
        metrics.lag.record(lag.values.reduce(0, +))
        return lag.values.allSatisfy { $0 == 0 }
    }

    private func watchRebalances() async {
        for await event in consumer.rebalanceEvents {
            if case .assigned = event { state.assigned() }
            if case .revoked(let partitions) = event {
                await commitNow()
                state.tracker { $0.revoke(partitions) }
            }
        }
    }

    // MARK: Committing

    private func commitPeriodically() async {
        var lagDue = ContinuousClock.now
        while !Task.isCancelled {
            try? await Task.sleep(for: settings.commitInterval)
            await commitNow()
            if ContinuousClock.now >= lagDue {
                lagDue = ContinuousClock.now + .seconds(10)
                if let lag = try? await consumer.lag() { metrics.lag.record(lag.values.reduce(0, +)) }
            }
        }
    }

    private func commitNow() async {
        let offsets = state.tracker { $0.committable() }
        guard !offsets.isEmpty else { return }
        let start = ContinuousClock.now
        do {
            try await consumer.commit(processedThrough: offsets)
            state.tracker { $0.committed(offsets) }
            metrics.stage("commit", since: start)
            if let (seq, value) = state.checkpointCandidate {
                metrics.lastProcessedSeq.record(seq)
                var object: [String: Any] = ["seq": seq]
                object["last_message"] = try? JSONSerialization.jsonObject(with: Data(value))
                try? FileManager.default.createDirectory(atPath: checkpoints.path, withIntermediateDirectories: true)
                try AtomicFile.write(try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), to: checkpoints.file("consumer.json"))
            }
        } catch {
            logger.warning("Offset commit failed; it will be retried", metadata: ["error": "\(error)"])
        }
    }

    // MARK: One change

    /// What processing a message left for the records step.
    private enum Outcome: Sendable {
        /// Not a change message: it is dead-lettered and nothing is recorded.
        case notAChange(DeadLetter)
        /// `processed` is nil when the change could not be processed; then `deadLetter` says why.
        case change(ChangeMessage, processed: ProcessedChange?, deadLetter: DeadLetter?, attempts: Int)
    }

    /// Fetches, verifies and stores what the change needs, retrying passing failures until
    /// `processingRetryMax`. Nil when shutting down before it was done (the message is handed back).
    private func process(_ message: KafkaConsumerMessage) async -> Outcome? {
        let change: ChangeMessage
        do {
            change = try ChangeMessage.decode(message.value)
        } catch {
            return .notAChange(DeadLetter(reason: "malformed_message", message: "not a change message: \(error)", attempts: 1))
        }

        var processed: ProcessedChange?
        var deadLetter: DeadLetter?
        var attempts = 0
        var backoff = Backoff(base: .milliseconds(200), cap: .seconds(30))
        let deadline = ContinuousClock.now + settings.processingRetryMax
        while processed == nil && deadLetter == nil {
            attempts += 1
            do {
                processed = try await processor.process(change)
            } catch {
                guard !Task.isShuttingDownGracefully, !Task.isCancelled else {
                    state.abandon()
                    return nil
                }
                if error.isRetriable && ContinuousClock.now < deadline {
                    metrics.retry(reason: error.code)
                    logger.warning("Change failed; retrying", metadata: ["npm.seq": "\(change.seq)", "npm.id": "\(change.id)", "error": "\(error)"])
                    try? await Task.sleep(for: backoff.next())
                } else {
                    deadLetter = DeadLetter(reason: error.code, message: error.message, attempts: attempts)
                }
            }
        }
        if deadLetter == nil, let processed, !processed.failedVersions.isEmpty {
            let versions = processed.failedVersions.sorted { $0.key < $1.key }
            deadLetter = DeadLetter(
                reason: versions[0].value,
                message: "tarballs refused after a second download: " + versions.map { "\($0.key) (\($0.value))" }.joined(separator: ", "),
                attempts: 2
            )
        }
        return .change(change, processed: processed, deadLetter: deadLetter, attempts: attempts)
    }

    /// Writes the change's records (retried for as long as it takes: a database that is down pauses
    /// the consumer), sends its dead letter and events, and marks its offset done.
    private func record(_ outcome: Outcome, message: KafkaConsumerMessage) async {
        let partition = KafkaTopicPartition(topic: message.topic, partition: message.partition)
        switch outcome {
        case .notAChange(let letter):
            guard await sendDeadLetter(letter, message: message, change: nil) else { return state.abandon() }
            metrics.change(result: "dead_lettered")
            state.completed(partition, offset: message.offset, value: nil, seq: nil)
        case .change(let change, let processed, let deadLetter, let attempts):
            await record(change, processed: processed, deadLetter: deadLetter, attempts: attempts, message: message, partition: partition)
        }
    }

    private func record(
        _ change: ChangeMessage,
        processed: ProcessedChange?,
        deadLetter: DeadLetter?,
        attempts: Int,
        message: KafkaConsumerMessage,
        partition: KafkaTopicPartition
    ) async {
        var deadLetter = deadLetter
        let processedAt = Timestamp.now()
        var documents = [ConsumerRecords.change(change: change, processed: processed, deadLetter: deadLetter, processedAt: processedAt)]
        if let processed { documents.insert(ConsumerRecords.package(change: change, processed: processed, processedAt: processedAt), at: 0) }
        guard let rejected = await writeRecords(documents, change: change) else { return state.abandon() }
        if deadLetter == nil, let rejection = rejected.first {
            deadLetter = DeadLetter(reason: "record_\(rejection.code)", message: rejection.description, attempts: attempts)
        }

        if let deadLetter {
            guard await sendDeadLetter(deadLetter, message: message, change: change) else { return state.abandon() }
        }
        await emitEvents(change: change, processed: processed, deadLetter: deadLetter)
        metrics.change(result: deadLetter != nil ? "dead_lettered" : processed?.outcome.rawValue ?? "skipped")
        state.count(processed)
        state.completed(partition, offset: message.offset, value: message.value, seq: change.seq)
    }

    /// Writes the documents until the store has them; returns the non-retriable per-document
    /// failures, or nil when shutting down before the write succeeded.
    private func writeRecords(_ documents: [RecordDocument], change: ChangeMessage) async -> [RecordStoreError]? {
        var backoff = Backoff(base: .milliseconds(200), cap: .seconds(30))
        while true {
            let start = ContinuousClock.now
            do {
                let results = try await records.write(documents)
                metrics.stage("record", since: start)
                var rejected: [RecordStoreError] = []
                var retry = false
                for result in results {
                    switch result {
                    case .written: metrics.recordWrite(result: "written")
                    case .alreadyExists: metrics.recordWrite(result: "already_exists")
                    case .failed(let error):
                        metrics.recordWrite(result: error.code.description)
                        if error.isRetriable { retry = true } else { rejected.append(error) }
                    }
                }
                if !retry { return rejected }
                logger.warning("Some records were not written; writing the batch again", metadata: ["npm.seq": "\(change.seq)"])
            } catch {
                metrics.recordWrite(result: (error as? RecordStoreError)?.code.description ?? "error")
                logger.warning("The record store failed; pausing before writing again", metadata: ["npm.seq": "\(change.seq)", "error": "\(error)"])
            }
            if Task.isShuttingDownGracefully || Task.isCancelled { return nil }
            try? await Task.sleep(for: backoff.next())
        }
    }

    private func sendDeadLetter(_ letter: DeadLetter, message: KafkaConsumerMessage, change: ChangeMessage?) async -> Bool {
        logger.error("Change dead-lettered", metadata: ["npm.seq": "\(change?.seq.description ?? "-")", "npm.id": "\(change?.id ?? "-")", "reason": "\(letter.reason)", "error": "\(letter.message)"])
        let value = letter.messageValue(original: message.value, change: change, at: Timestamp.now())
        return await untilSent(KafkaProducerMessage(topic: settings.deadLetterTopic, key: message.key, value: value))
    }

    private func emitEvents(change: ChangeMessage, processed: ProcessedChange?, deadLetter: DeadLetter?) async {
        var events: [PipelineEvent] = []
        if let processed {
            for (version, stored) in processed.newVersions.sorted(by: { $0.key < $1.key }) {
                events.append(PipelineEvent(stage: "downloaded", change: change, version: version, bytes: stored.bytes))
            }
            switch processed.outcome {
            case .stored: events.append(PipelineEvent(stage: "stored", change: change))
            case .deleted, .unpublished: events.append(PipelineEvent(stage: "deleted", change: change, reason: processed.outcome.rawValue))
            case .skipped: events.append(PipelineEvent(stage: "skipped", change: change, reason: processed.skipReason))
            }
            for (version, reason) in processed.skippedVersions.sorted(by: { $0.key < $1.key }) {
                events.append(PipelineEvent(stage: "skipped", change: change, version: version, reason: reason))
            }
        }
        if let deadLetter { events.append(PipelineEvent(stage: "skipped", change: change, reason: deadLetter.reason)) }
        events.append(PipelineEvent(stage: "recorded", change: change))
        let at = Timestamp.now()
        let key = Array(change.id.utf8)
        do {
            // Events are for watching the pipeline: posted, not awaited, so a change never waits for
            // their acknowledgement; losing one must not hold up a change either.
            try await producer.post(events.map { KafkaProducerMessage(topic: settings.eventsTopic, key: key, value: $0.value(at: at)) })
        } catch {
            logger.warning("Could not emit events", metadata: ["npm.seq": "\(change.seq)", "error": "\(error)"])
        }
    }

    private func untilSent(_ message: KafkaProducerMessage) async -> Bool {
        var backoff = Backoff(base: .milliseconds(200), cap: .seconds(30))
        while true {
            do {
                _ = try await producer.send(message)
                return true
            } catch {
                logger.warning("Could not write to \(message.topic); retrying", metadata: ["error": "\(error)"])
                if Task.isShuttingDownGracefully || Task.isCancelled { return false }
                try? await Task.sleep(for: backoff.next())
            }
        }
    }

    private func untilDone(_ what: String, _ operation: () async throws -> Void) async throws {
        var backoff = Backoff(base: .milliseconds(500), cap: .seconds(30))
        while true {
            do {
                return try await operation()
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { throw error }
                let wait = backoff.next()
                logger.warning("Could not \(what); retrying in \(wait)", metadata: ["error": "\(error)"])
                try await Task.sleep(for: wait)
            }
        }
    }
}

/// What a consumer has done so far, for progress lines and summaries.
public struct ConsumerProgress: Sendable, Hashable {
    public var changesProcessed = 0
    public var tarballsStored = 0
    public var tarballBytes: Int64 = 0
    /// The highest seq processed with everything before it in its partition.
    public var highestCompleteSeq: Int64?
    public var inFlight = 0
}

extension ChangesConsumerService {
    public var progress: ConsumerProgress { state.progress }
}

/// What the consumer's tasks share.
final class ConsumerState: Sendable {
    private struct Values {
        var progress = ConsumerProgress()
        var tracker = OffsetTracker()
        var lastActivity = ContinuousClock.now
        var highest: (seq: Int64, value: [UInt8])?
        var abandoned = false
        var wasAssigned = false
        let startedAt = ContinuousClock.now
    }
    private let values = Mutex(Values())

    func tracker<T>(_ body: (inout OffsetTracker) -> T) -> T {
        values.withLock { body(&$0.tracker) }
    }

    var lastActivity: ContinuousClock.Instant { values.withLock { $0.lastActivity } }
    var startedAt: ContinuousClock.Instant { values.withLock { $0.startedAt } }

    /// The group has given this member partitions at least once.
    var wasAssigned: Bool { values.withLock { $0.wasAssigned } }
    func assigned() {
        values.withLock { state in
            state.wasAssigned = true
            state.lastActivity = .now
        }
    }

    /// A lane gave up a message on shutdown: it stays uncommitted and will be redone.
    var abandoned: Bool { values.withLock { $0.abandoned } }
    func abandon() { values.withLock { $0.abandoned = true } }

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

    func received(_ message: KafkaConsumerMessage, seq: Int64?) {
        values.withLock { state in
            state.tracker.received(KafkaTopicPartition(topic: message.topic, partition: message.partition), offset: message.offset, seq: seq)
            state.lastActivity = .now
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
