import AsyncHTTPClient
import Logging
import MirrorConfig
import MirrorKafka
import MirrorReconcile
import MirrorRecords
import MirrorRuntime
import NPMRegistry
import Prometheus
import ServiceLifecycle
import Synchronization
import UnixSignals

/// `npm-mirror reconcile` wired up from one configuration: the registry's list, the configured records,
/// and (unless a dry run) a Kafka producer to the changes topic. Runs once, stopping gracefully on
/// SIGTERM/SIGINT after the page in flight; closes what it made.
public struct ReconcileApplication: Sendable {
    public let reconciliation: Reconciliation
    let httpClient: HTTPClient
    let kafkaProducer: KafkaProducer?
    let metricsEndpoint: MetricsEndpoint

    /// Thrown when sending is asked for with no brokers to send to.
    public struct NeedsBrokers: Error, CustomStringConvertible {
        public var description: String {
            "sending the missing and stale packages needs KAFKA_BROKERS (the changes topic the consumers read); use --dry-run to report only, or RECONCILE_INTERVAL to reconcile inside `npm-mirror run`"
        }
    }

    public init(configuration: MirrorConfiguration, dryRun: Bool, metricsRegistry: PrometheusCollectorRegistry, logger: Logger) throws {
        let brokers = configuration.kafka.brokers
        if !dryRun, brokers == nil { throw NeedsBrokers() }
        let records = try configuration.records.openStore(logger: logger).store
        let metrics = PrometheusMetricsFactory(registry: metricsRegistry)
        var producer: KafkaProducer?
        if !dryRun, let brokers {
            let kafka = configuration.kafka.clientConfiguration(bootstrapServers: brokers, clientID: "npm-mirror-reconcile")
            producer = try KafkaProducer(configuration: KafkaProducer.Configuration(client: kafka), logger: logger)
        }
        // The clients come last: nothing after them can fail.
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        self.httpClient = httpClient
        self.kafkaProducer = producer
        self.reconciliation = Reconciliation(
            registry: ReplicateClient(baseURL: configuration.registry.replicateURL, http: RegistryHTTP(client: httpClient, timeout: configuration.httpTimeout, metrics: metrics)),
            records: records,
            settings: .init(configuration: configuration),
            send: producer.map { ChangeSender(producer: $0, topic: configuration.kafka.topic).send(reconciled:) },
            checkpoints: ReconcileCheckpointFile(directory: configuration.storage.updateSeqDirectory),
            metrics: ReconcileMetrics(factory: metrics),
            logger: logger
        )
        // Not served (a run of minutes): only its snapshot is written, to METRICS_FILE when set.
        metricsEndpoint = MetricsEndpoint(registry: metricsRegistry, port: 0, snapshotPath: configuration.metricsFile, logger: logger)
    }

    /// Runs one reconciliation (from the checkpoint of an unfinished one, unless `restart`); `progress`
    /// after every page. Closes the clients either way.
    public func run(restart: Bool, signals: [UnixSignal] = [.sigterm, .sigint], logger: Logger, progress: @escaping @Sendable (ReconcileReport) -> Void) async throws -> ReconcileReport {
        let run = RunOnce(reconciliation: reconciliation, restart: restart, progress: progress)
        var groupConfiguration = ServiceGroupConfiguration(services: [.init(service: run, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup)], gracefulShutdownSignals: signals, logger: logger)
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(60)
        defer { metricsEndpoint.writeSnapshot() }
        do {
            try await ServiceGroup(configuration: groupConfiguration).run()
        } catch {
            await close()
            throw error
        }
        await close()
        guard let report = run.report.withLock({ $0 }) else { throw ReconcileError(message: "the reconciliation ended without a report") }
        return report
    }

    private func close() async {
        await kafkaProducer?.shutdown()
        try? await httpClient.shutdown()
    }

    /// The reconciliation as a service, keeping its report.
    final class RunOnce: Service, Sendable {
        let reconciliation: Reconciliation
        let restart: Bool
        let progress: @Sendable (ReconcileReport) -> Void
        let report = Mutex<ReconcileReport?>(nil)

        init(reconciliation: Reconciliation, restart: Bool, progress: @escaping @Sendable (ReconcileReport) -> Void) {
            self.reconciliation = reconciliation
            self.restart = restart
            self.progress = progress
        }

        func run() async throws {
            let outcome = try await reconciliation.run(restart: restart, progress: progress)
            report.withLock { $0 = outcome }
        }
    }
}
