import AsyncHTTPClient
import CoreMetrics
import Logging
import MirrorConfig
import MirrorKafka
import MirrorOffline
import MirrorReconcile
import MirrorRecords
import NPMRegistry
import Prometheus
import ServiceLifecycle
import MirrorRuntime
import UnixSignals
import MirrorStore

/// The changes producer wired up: the clients it needs and the services to run, built from one
/// configuration. `changes-producer` runs it; tests build the same graph with other settings.
public struct ProducerApplication: Sendable {
    public let producerService: ChangesProducerService
    /// `RECONCILE_INTERVAL`: the periodic reconciliation beside the producer (nil: off).
    public let reconcileService: ReconcileService?
    /// The pin sets' packages sent to the consumers, and `PIN_DIRECTORY`'s lockfiles pinned.
    public let pinService: PinService
    public let metricsEndpoint: MetricsEndpoint
    public let httpClient: HTTPClient
    /// How long a graceful shutdown may take before the service is cancelled.
    let shutdownBound: Duration
    /// Made here, so closed here (``closeKafkaClients()``), not by the service that uses it.
    let kafkaProducer: KafkaProducer

    /// Builds the producer for `bootstrapServers` (the configured brokers, or an embedded cluster's).
    public init(
        configuration: MirrorConfiguration,
        bootstrapServers: String,
        exitWhenCaughtUp: Bool,
        records: (any RecordStore)? = nil,
        metricsRegistry: PrometheusCollectorRegistry,
        logger: Logger
    ) throws {
        let metrics = PrometheusMetricsFactory(registry: metricsRegistry)
        let kafka = configuration.kafka.clientConfiguration(bootstrapServers: bootstrapServers, clientID: "npm-mirror-producer")
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        let http = RegistryHTTP(client: httpClient, timeout: configuration.httpTimeout, metrics: metrics)
        let producer: KafkaProducer
        let admin: KafkaAdmin
        do {
            producer = try KafkaProducer(configuration: KafkaProducer.Configuration(client: kafka), logger: logger)
            admin = try KafkaAdmin(configuration: kafka, logger: logger)
        } catch {
            try? httpClient.syncShutdown()
            throw error
        }
        self.httpClient = httpClient
        self.kafkaProducer = producer
        // The page in flight finishes within HTTP_TIMEOUT and Kafka's acknowledgement; past that, cancelled.
        self.shutdownBound = configuration.httpTimeout + .seconds(60)
        let feed = ReplicateClient(baseURL: configuration.registry.replicateURL, http: http)
        if let interval = configuration.reconcile.interval, let records, !exitWhenCaughtUp {
            self.reconcileService = ReconcileService(
                reconciliation: Reconciliation(
                    registry: feed, records: records, settings: .init(configuration: configuration),
                    send: ChangeSender(producer: producer, topic: configuration.kafka.topic).send(reconciled:),
                    checkpoints: ReconcileCheckpointFile(directory: configuration.storage.updateSeqDirectory),
                    metrics: ReconcileMetrics(factory: metrics), logger: logger
                ),
                interval: interval, logger: logger
            )
        } else {
            self.reconcileService = nil
        }
        self.pinService = PinService(
            folder: PinFolder(path: configuration.storage.pinSetDirectory),
            lockfileDirectory: configuration.storage.pinDirectory,
            send: ChangeSender(producer: producer, topic: configuration.kafka.topic).send(pinned:),
            logger: logger
        )
        self.producerService = ChangesProducerService(
            settings: .init(configuration: configuration, exitWhenCaughtUp: exitWhenCaughtUp),
            feed: feed,
            producer: producer,
            admin: admin,
            checkpoints: CheckpointDirectory(path: configuration.storage.updateSeqDirectory),
            metrics: metrics,
            logger: logger
        )
        self.metricsEndpoint = MetricsEndpoint(registry: metricsRegistry, port: configuration.metricsPort, snapshotPath: configuration.metricsFile, logger: logger)
    }

    /// Runs the producer and its metrics endpoint until the producer finishes (caught up, or a
    /// graceful shutdown on SIGTERM/SIGINT) or fails; then flushes the Kafka producer and shuts the HTTP
    /// client down.
    public func run(logger: Logger, signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        do {
            try await runWithMetrics(producerService, beside: besideServices, metricsEndpoint: metricsEndpoint, httpClient: httpClient, signals: signals, shutdownBound: shutdownBound, logger: logger)
        } catch {
            await closeKafkaClients()
            throw error
        }
        await closeKafkaClients()
    }

    /// What runs beside the producer: the pin service, and the periodic reconciliation when on.
    public var besideServices: [any Service] {
        var services: [any Service] = [pinService]
        if let reconcileService { services.append(reconcileService) }
        return services
    }

    /// Flushes what the producer still holds and stops its poll loop (once; later calls do nothing).
    public func closeKafkaClients() async {
        await kafkaProducer.shutdown()
    }
}

extension Reconciliation.Settings {
    /// `RECONCILE_PAGE_SIZE` and `RECONCILE_RATE`.
    public init(configuration: MirrorConfiguration) {
        self.init()
        pageSize = configuration.reconcile.pageSize
        requestsPerSecond = configuration.reconcile.requestsPerSecond
    }
}
