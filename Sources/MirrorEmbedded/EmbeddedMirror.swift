import AsyncHTTPClient
import Foundation
import Logging
import MirrorConfig
import MirrorKafka
import MirrorPipeline
import MirrorRecords
import Prometheus
import ServiceLifecycle
import MirrorRuntime
import UnixSignals

/// The whole mirror in one process (`npm-mirror run`): producer with its lag watchdog, one or more
/// consumers, a metrics endpoint and a progress reporter.
///
/// With no `KAFKA_BROKERS` it starts an embedded broker (librdkafka's mock cluster). That broker keeps
/// nothing across restarts, so the producer then resumes from `update_seq/update_seq.json`, and the
/// consumers start from the beginning of the (new, empty) topic. With no `COUCHDB_URL` the records go
/// to an SQLite file in `DBDATA_DIR`.
public struct EmbeddedMirror: Sendable {
    public let configuration: MirrorConfiguration
    public let bootstrapServers: String
    public let records: any RecordStore
    /// Where the records go, for people: the SQLite file or the CouchDB database.
    public let recordsLocation: String
    public let metricsRegistry = PrometheusCollectorRegistry()
    public let producer: ProducerApplication
    public let consumers: [ConsumerApplication]
    /// Kept alive while the mirror runs; nil when `KAFKA_BROKERS` names a real cluster. Declared
    /// after the clients, so it is released after them: a client that outlived its broker logged a
    /// librdkafka connection error at the end of every `npm-mirror demo`.
    public let cluster: EmbeddedKafkaCluster?

    public init(
        configuration: MirrorConfiguration,
        consumers consumerCount: Int,
        exitWhenCaughtUp: Bool = false,
        exitWhenIdle: Duration? = nil,
        logger: Logger
    ) throws {
        self.configuration = configuration
        if let brokers = configuration.kafka.brokers {
            cluster = nil
            bootstrapServers = brokers
        } else {
            let cluster = try EmbeddedKafkaCluster(brokerCount: 1, logger: logger)
            try cluster.createTopic(configuration.kafka.topic, partitions: configuration.kafka.topicPartitions)
            try cluster.createTopic(configuration.kafka.deadLetterTopic, partitions: 1)
            try cluster.createTopic(configuration.kafka.eventsTopic, partitions: 1)
            self.cluster = cluster
            bootstrapServers = cluster.bootstrapServers
            logger.notice("Started the embedded Kafka broker (nothing in it survives this process)", metadata: ["kafka.brokers": "\(cluster.bootstrapServers)"])
        }
        (records, recordsLocation) = try Self.recordStore(configuration, logger: logger)
        producer = try ProducerApplication(
            configuration: configuration,
            bootstrapServers: bootstrapServers,
            exitWhenCaughtUp: exitWhenCaughtUp,
            records: records,
            metricsRegistry: metricsRegistry,
            logger: logger
        )
        // Whoever makes a client closes it: when a later consumer cannot be made, the clients made so
        // far are shut down here (an HTTPClient dropped without a shutdown is a fatal error).
        var made: [ConsumerApplication] = []
        do {
            for _ in 0..<max(1, consumerCount) {
                made.append(
                    try ConsumerApplication(
                        configuration: configuration,
                        bootstrapServers: bootstrapServers,
                        records: records,
                        exitWhenIdle: exitWhenIdle,
                        metricsRegistry: metricsRegistry,
                        logger: logger
                    )
                )
            }
        } catch {
            try? producer.httpClient.syncShutdown()
            for consumer in made { try? consumer.httpClient.syncShutdown() }
            throw error
        }
        consumers = made
    }

    /// CouchDB when `COUCHDB_URL` is set, else the embedded SQLite file.
    static func recordStore(_ configuration: MirrorConfiguration, logger: Logger) throws -> (any RecordStore, String) {
        try configuration.records.openStore(logger: logger)
    }

    /// Runs everything until SIGTERM/SIGINT (then stops gracefully: consumers first, then the
    /// producer), or until a part fails.
    public func run(logger: Logger, signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        let endpoint = MetricsEndpoint(registry: metricsRegistry, port: configuration.metricsPort, snapshotPath: configuration.metricsFile, logger: logger)
        let reporter = ProgressReporter(producer: producer.producerService, consumers: consumers.map(\.consumerService), interval: .seconds(10), logger: logger)
        var services: [ServiceGroupConfiguration.ServiceConfiguration] = [
            .init(service: endpoint),
            .init(service: reporter),
            .init(service: producer.producerService, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
        ]
        for service in producer.besideServices {
            services.append(.init(service: service, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup))
        }
        services += consumers.map { .init(service: $0.consumerService, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup) }
        var groupConfiguration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: signals, logger: logger)
        // A change in flight finishes within HTTP_TIMEOUT and one record write; past that, cancelled.
        groupConfiguration.maximumGracefulShutdownDuration = configuration.httpTimeout + .seconds(60)
        let group = ServiceGroup(configuration: groupConfiguration)
        defer { endpoint.writeSnapshot() }
        do {
            try await group.run()
        } catch {
            await shutdownClients()
            throw error
        }
        await shutdownClients()
    }

    /// Shuts the HTTP clients down; call once everything has stopped.
    public func shutdownClients() async {
        await producer.closeKafkaClients()
        try? await producer.httpClient.shutdown()
        for consumer in consumers { await consumer.closeClients() }
    }
}
