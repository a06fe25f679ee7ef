import Logging
import MirrorKafka
import MirrorReconcile
import MirrorRecords
import MirrorRuntime
import NPMRegistry
import ServiceLifecycle

/// Sends changes that come from outside the feed into the changes topic, keyed by name like every
/// change (so each goes to its package's partition, behind the package's feed changes). Returns once
/// the broker has acknowledged every one. Reconciliation and pins send through it.
public struct ChangeSender: Sendable {
    let producer: KafkaProducer
    let topic: String

    public init(producer: KafkaProducer, topic: String) {
        self.producer = producer
        self.topic = topic
    }

    public func send(_ changes: [ChangeMessage]) async throws {
        guard !changes.isEmpty else { return }
        _ = try await producer.send(changes.map { KafkaProducerMessage(topic: topic, key: Array($0.id.utf8), value: $0.jsonBytes) })
    }

    /// The missing and stale packages a reconciliation found, as changes marked `"source":"reconcile"`.
    public func send(reconciled findings: [ReconcileFinding]) async throws {
        let at = Timestamp.now()
        try await send(findings.compactMap { finding -> ChangeMessage? in
            switch finding {
            case .missing(let id, let rev), .stale(let id, let rev, _): ChangeMessage.reconciled(id: id, rev: rev, at: at)
            case .vanished: nil
            }
        })
    }

    /// Packages that pin sets name, as changes marked `"source":"pin"`.
    public func send(pinned names: [String]) async throws {
        let at = Timestamp.now()
        try await send(names.map { ChangeMessage.pinned(id: $0, at: at) })
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
