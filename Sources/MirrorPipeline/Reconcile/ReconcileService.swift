import Logging
import MirrorKafka
import MirrorReconcile
import MirrorRecords
import MirrorRuntime
import NPMRegistry
import ServiceLifecycle

/// Sends the missing and stale packages a reconciliation found into the changes topic, as changes
/// marked `"source":"reconcile"`, keyed by name like every change (so they go to the package's
/// partition, behind its feed changes). Returns once the broker has acknowledged every one.
public struct ReconcileSender: Sendable {
    let producer: KafkaProducer
    let topic: String

    public init(producer: KafkaProducer, topic: String) {
        self.producer = producer
        self.topic = topic
    }

    public func send(_ findings: [ReconcileFinding]) async throws {
        let at = Timestamp.now()
        let messages = findings.compactMap { finding -> KafkaProducerMessage? in
            switch finding {
            case .missing(let id, let rev), .stale(let id, let rev, _):
                KafkaProducerMessage(topic: topic, key: Array(id.utf8), value: ChangeMessage.reconciled(id: id, rev: rev, at: at).jsonBytes)
            case .vanished:
                nil
            }
        }
        guard !messages.isEmpty else { return }
        _ = try await producer.send(messages)
    }
}

/// `RECONCILE_INTERVAL`: a reconciliation beside the producer, every interval (the first one interval
/// after start), resuming an unfinished one from its checkpoint. Stops with the service group.
public struct ReconcileService: Service {
    let reconciliation: Reconciliation
    let interval: Duration
    let logger: Logger

    public init(reconciliation: Reconciliation, interval: Duration, logger: Logger) {
        self.reconciliation = reconciliation
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        while await pauseUnlessShuttingDown(interval) {
            do {
                _ = try await reconciliation.run()
            } catch {
                // The next run starts from the checkpoint of the last page finished.
                logger.error("Reconciliation failed; trying again at the next interval", metadata: ["error": "\(error)"])
            }
        }
    }
}
