import AsyncHTTPClient
import Foundation
import CoreMetrics
import Logging
import MirrorConfig
import MirrorKafka
import MirrorOffline
import MirrorRecords
import MirrorStore
import NPMRegistry
import Prometheus
import ServiceLifecycle
import MirrorRuntime
import UnixSignals

/// The changes consumer wired up from one configuration: `changes-consumer` runs it, tests build the
/// same graph with other parts (a CouchDB double, an embedded broker).
public struct ConsumerApplication: Sendable {
    public let consumerService: ChangesConsumerService
    public let metricsEndpoint: MetricsEndpoint
    public let httpClient: HTTPClient
    /// How long a graceful shutdown may take before the service is cancelled.
    let shutdownBound: Duration
    /// Made here, so closed here (``closeClients()``), not by the service that uses them.
    let kafkaConsumer: KafkaConsumer
    let kafkaProducer: KafkaProducer

    public init(
        configuration: MirrorConfiguration,
        bootstrapServers: String,
        records: any RecordStore,
        exitWhenIdle: Duration?,
        metricsRegistry: PrometheusCollectorRegistry,
        logger: Logger
    ) throws {
        // Everything that can fail comes before the clients: an HTTPClient dropped without a
        // shutdown is a fatal error.
        let signingKeys = try configuration.trustedSigningKeys()
        let metrics = PrometheusMetricsFactory(registry: metricsRegistry)
        let kafka = configuration.kafka.clientConfiguration(bootstrapServers: bootstrapServers, clientID: "npm-mirror-consumer")
        var consumerConfiguration = KafkaConsumer.Configuration(client: kafka, groupID: configuration.kafka.consumerGroup)
        consumerConfiguration.sessionTimeout = configuration.consumer.sessionTimeout
        var store = try PackageStore(
            root: configuration.storage.remotePackageDirectory,
            scratch: configuration.storage.localPackageDirectory,
            shardLength: configuration.storage.subdirectoryHashLength,
            packumentRevisionsKept: configuration.consumer.packumentRevisionsKept,
            durability: configuration.storage.sync == .grouped ? .grouped : .eachFile
        )
        // A diagnostic for the reliability suite: every packument revision made current, one line each.
        store.writeLog = ProcessInfo.processInfo.environment["NPM_MIRROR_STORE_WRITE_LOG"].flatMap { $0.isEmpty ? nil : $0 }
        let consumer = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
        let producer = try KafkaProducer(configuration: KafkaProducer.Configuration(client: kafka), logger: logger)
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton)
        let http = RegistryHTTP(client: httpClient, timeout: configuration.httpTimeout, metrics: metrics)
        // One set of metric handles, for the service and its processor.
        let consumerMetrics = ConsumerMetrics(factory: metrics)
        var processor = ChangeProcessor(
            settings: .init(
                registryURL: configuration.registry.registryURL,
                maxTarballSize: configuration.storage.maxTarballSize,
                packumentMaxSize: configuration.consumer.packumentMaxSize,
                versionsLimit: configuration.storage.oldPackageVersionsLimit,
                replicaLagWait: configuration.consumer.replicaLagWait,
                removeUnpublished: configuration.consumer.removeUnpublished,
                fetchTarballs: configuration.consumer.fetchTarballs
            ),
            packages: PackageClient(registryURL: configuration.registry.registryURL, http: http),
            store: store,
            verifier: TarballVerifier(limits: .init(maxUnpackedBytes: configuration.consumer.maxUnpackedSize, maxEntries: configuration.consumer.maxTarballEntries)),
            metrics: consumerMetrics,
            logger: logger,
            signatures: VersionSignatures(
                policy: configuration.consumer.signatures.policy,
                keys: signingKeys,
                trustRegistryKeys: configuration.consumer.signatures.trustRegistryKeys
            )
        )
        processor.pins = PinIndex(folder: PinFolder(path: configuration.storage.pinSetDirectory), logger: logger)
        self.httpClient = httpClient
        self.shutdownBound = configuration.httpTimeout + .seconds(60)
        self.kafkaConsumer = consumer
        self.kafkaProducer = producer
        var settings = ChangesConsumerService.Settings(
            topic: configuration.kafka.topic,
            deadLetterTopic: configuration.kafka.deadLetterTopic,
            eventsTopic: configuration.kafka.eventsTopic,
            concurrency: configuration.consumer.concurrency,
            exitWhenIdle: exitWhenIdle,
            processingRetryMax: configuration.consumer.processingRetryMax,
            sessionTimeout: configuration.consumer.sessionTimeout
        )
        settings.stallTimeout = configuration.consumer.stallTimeout
        self.consumerService = ChangesConsumerService(
            settings: settings,
            consumer: consumer,
            producer: producer,
            processor: processor,
            // The lanes' records go together: one request pair for many changes under load.
            records: BatchingRecordStore(records),
            store: store,
            checkpoints: CheckpointDirectory(path: configuration.storage.updateSeqDirectory),
            metrics: consumerMetrics,
            logger: logger
        )
        self.metricsEndpoint = MetricsEndpoint(registry: metricsRegistry, port: configuration.metricsPort, snapshotPath: configuration.metricsFile, logger: logger)
    }

    /// Runs the consumer and its metrics endpoint until the consumer finishes (idle with
    /// `--exit-when-idle`, or a graceful shutdown on SIGTERM/SIGINT) or fails.
    ///
    /// A stalled consumer (``ChangesConsumerService/ConsumerStalled``) whose stuck changes do not
    /// end when cancelled is ended with exit code 70 a minute later: this is the process's own run.
    public func run(logger: Logger, signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        var service = consumerService
        service.settings.stallExitGrace = .seconds(60)
        do {
            // A change in flight finishes within HTTP_TIMEOUT and one record write; past that, cancelled.
            try await runWithMetrics(service, metricsEndpoint: metricsEndpoint, httpClient: httpClient, signals: signals, shutdownBound: shutdownBound, logger: logger)
        } catch {
            await closeKafkaClients()
            throw error
        }
        await closeKafkaClients()
    }

    /// Runs the consumer service alone (no metrics endpoint, no signals), then closes every client it
    /// was made with (``closeClients()``): what tests need.
    public func runConsumer() async throws {
        do {
            try await consumerService.run()
        } catch {
            await closeClients()
            throw error
        }
        await closeClients()
    }

    /// Closes every client made here: the Kafka clients, then the HTTP client (an application that has
    /// been closed cannot run again).
    public func closeClients() async {
        await closeKafkaClients()
        try? await httpClient.shutdown()
    }

    /// Leaves the group (its partitions go to the other members at once) and flushes the producer.
    public func closeKafkaClients() async {
        await kafkaConsumer.close()
        await kafkaProducer.shutdown()
    }
}
