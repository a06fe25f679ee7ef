import AsyncHTTPClient
import CoreMetrics
import Logging
import MirrorConfig
import MirrorKafka
import NPMRegistry
import Prometheus
import ServiceLifecycle
import ServiceScope
import UnixSignals

/// The changes producer wired up: the clients it needs and the services to run, built from one
/// configuration. `changes-producer` runs it; tests build the same graph with other settings.
public struct ProducerApplication: Sendable {
    public let producerService: ChangesProducerService
    public let metricsEndpoint: MetricsEndpoint
    public let httpClient: HTTPClient
    /// How long a graceful shutdown may take before the service is cancelled.
    let shutdownBound: Duration

    /// Builds the producer for `bootstrapServers` (the configured brokers, or an embedded cluster's).
    public init(
        configuration: MirrorConfiguration,
        bootstrapServers: String,
        exitWhenCaughtUp: Bool,
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
        // The page in flight finishes within HTTP_TIMEOUT and Kafka's acknowledgement; past that, cancelled.
        self.shutdownBound = configuration.httpTimeout + .seconds(60)
        self.producerService = ChangesProducerService(
            settings: .init(configuration: configuration, exitWhenCaughtUp: exitWhenCaughtUp),
            feed: ReplicateClient(baseURL: configuration.registry.replicateURL, http: http),
            producer: producer,
            admin: admin,
            checkpoints: CheckpointDirectory(path: configuration.storage.updateSeqDirectory),
            metrics: metrics,
            logger: logger
        )
        self.metricsEndpoint = MetricsEndpoint(registry: metricsRegistry, port: configuration.metricsPort, snapshotPath: configuration.metricsFile, logger: logger)
    }

    /// Runs the producer and its metrics endpoint until the producer finishes (caught up, or a
    /// graceful shutdown on SIGTERM/SIGINT) or fails; then shuts the HTTP client down.
    public func run(logger: Logger, signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        try await runWithMetrics(producerService, metricsEndpoint: metricsEndpoint, httpClient: httpClient, signals: signals, shutdownBound: shutdownBound, logger: logger)
    }
}
