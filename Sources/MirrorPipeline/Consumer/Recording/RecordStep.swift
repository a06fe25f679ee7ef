import Logging
import MirrorKafka
import MirrorRecords
import MirrorRuntime
import NPMRegistry
import ServiceLifecycle

/// What an attempt left for the record step.
enum ChangeOutcome: Sendable {
    /// Not a change message: it is dead-lettered and nothing is recorded.
    case notAChange(DeadLetter)
    /// `processed` is nil when the change could not be processed; then `deadLetter` says why.
    /// A superseded change has `processed.outcome == .superseded`: only its change record is written.
    case change(ChangeMessage, processed: ProcessedChange?, deadLetter: DeadLetter?, attempts: Int)
}

/// The second step of a change: its records, its dead letter, its events, and then its offset is
/// done. Records are written until the store has them (a database that is down pauses the consumer);
/// on graceful shutdown the change is handed back instead, uncommitted.
struct RecordStep: Sendable {
    let records: any RecordStore
    let producer: KafkaProducer
    let deadLetterTopic: String
    let eventsTopic: String
    let state: ConsumerState
    let metrics: ConsumerMetrics
    let logger: Logger

    /// Records a change received in the partition ownership `epoch`; its offset completes only if
    /// the partition is still in that ownership.
    func record(_ outcome: ChangeOutcome, message: KafkaConsumerMessage, epoch: Int? = nil) async {
        let partition = KafkaTopicPartition(topic: message.topic, partition: message.partition)
        switch outcome {
        case .notAChange(let letter):
            guard await sendDeadLetter(letter, message: message, change: nil) else { return }
            metrics.change(result: .deadLettered)
            state.completed(partition, offset: message.offset, epoch: epoch, value: nil, seq: nil)
        case .change(let change, let processed, let deadLetter, let attempts):
            await record(change, processed: processed, deadLetter: deadLetter, attempts: attempts, message: message, partition: partition, epoch: epoch)
        }
    }

    private func record(
        _ change: ChangeMessage,
        processed: ProcessedChange?,
        deadLetter: DeadLetter?,
        attempts: Int,
        message: KafkaConsumerMessage,
        partition: KafkaTopicPartition,
        epoch: Int?
    ) async {
        var deadLetter = deadLetter
        var processed = processed
        let processedAt = Timestamp.now()
        var documents = [ConsumerRecords.change(change: change, processed: processed, deadLetter: deadLetter, processedAt: processedAt)]
        if let processed, processed.outcome != .superseded {
            documents.insert(ConsumerRecords.package(change: change, processed: processed, processedAt: processedAt), at: 0)
        }
        guard let (rejected, keptNewer) = await writeRecords(documents, change: change) else { return }
        if keptNewer, processed != nil {
            // The package record already describes a newer revision (written by another member):
            // this change is superseded by it.
            metrics.staleWriteRefused(target: "record")
            logger.notice("The package record holds a newer revision; kept it", metadata: ["npm.id": "\(change.id)", "npm.seq": "\(change.seq)"])
            processed?.outcome = .superseded
        }
        if deadLetter == nil, let rejection = rejected.first {
            deadLetter = DeadLetter(reason: "record_\(rejection.code)", message: rejection.description, attempts: attempts)
        }

        if let deadLetter {
            guard await sendDeadLetter(deadLetter, message: message, change: change) else { return }
        }
        await emitEvents(change: change, processed: processed, deadLetter: deadLetter)
        metrics.change(result: ChangeResult.decide(processed: processed?.outcome, deadLettered: deadLetter != nil))
        state.count(processed)
        state.completed(partition, offset: message.offset, epoch: epoch, value: message.value, seq: change.feedSeq)
    }

    /// Some documents of a write failed in a passing way: the whole batch is written again (the
    /// others come back `alreadyExists` or are replaced with the same content).
    private struct RetriableDocuments: Error, CustomStringConvertible {
        let codes: [String]
        var description: String { "some records were not written (\(codes.joined(separator: ", ")))" }
    }

    /// Writes the documents until the store has them; returns the non-retriable per-document
    /// failures and whether a document was kept because the stored one is newer, or nil when
    /// shutting down before the write succeeded.
    private func writeRecords(_ documents: [RecordDocument], change: ChangeMessage) async -> ([RecordStoreError], Bool)? {
        try? await retrying(
            "write the records", policy: .writes, logger: logger, metadata: ["npm.seq": "\(change.seq)"],
            count: { error in
                if !(error is RetriableDocuments) { metrics.recordWrite(result: (error as? RecordStoreError)?.code.description ?? "error") }
            }
        ) {
            let start = ContinuousClock.now
            let results = try await records.write(documents)
            metrics.stage("record", since: start)
            var rejected: [RecordStoreError] = []
            var retriable: [String] = []
            var keptNewer = false
            for result in results {
                switch result {
                case .written: metrics.recordWrite(result: "written")
                case .alreadyExists: metrics.recordWrite(result: "already_exists")
                case .keptNewer:
                    metrics.recordWrite(result: "kept_newer")
                    keptNewer = true
                case .failed(let error):
                    metrics.recordWrite(result: error.code.description)
                    if error.isRetriable { retriable.append(error.code.description) } else { rejected.append(error) }
                }
            }
            if !retriable.isEmpty { throw RetriableDocuments(codes: retriable) }
            return (rejected, keptNewer)
        }
    }

    private func sendDeadLetter(_ letter: DeadLetter, message: KafkaConsumerMessage, change: ChangeMessage?) async -> Bool {
        logger.error("Change dead-lettered", metadata: ["npm.seq": "\(change?.seq.description ?? "-")", "npm.id": "\(change?.id ?? "-")", "reason": "\(letter.reason)", "error": "\(letter.message)"])
        let value = letter.messageValue(original: message.value, change: change, at: Timestamp.now())
        let deadLetter = KafkaProducerMessage(topic: deadLetterTopic, key: message.key, value: value)
        let sent = try? await retrying("write to \(deadLetterTopic)", policy: .writes, logger: logger) {
            _ = try await producer.send(deadLetter)
            return true
        }
        return sent == true
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
            case .superseded: events.append(PipelineEvent(stage: "superseded", change: change))
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
            try await producer.post(events.map { KafkaProducerMessage(topic: eventsTopic, key: key, value: $0.value(at: at)) })
        } catch {
            logger.warning("Could not emit events", metadata: ["npm.seq": "\(change.seq)", "error": "\(error)"])
        }
    }
}
