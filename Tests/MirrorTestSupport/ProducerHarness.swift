import AsyncHTTPClient
import Foundation
import Logging
import MirrorConfig
import MirrorHarness
import MirrorKafka
import MirrorPipeline
import NPMRegistry
import Prometheus
import RegistrySimulator
import MirrorStore

/// Everything a producer test needs: a simulator, an embedded cluster with the topic, a checkpoint
/// directory, and a configuration pointing at them (with short intervals).
package struct ProducerHarness {
    package let simulator: RegistrySimulator
    package let cluster: EmbeddedKafkaCluster
    package let topic: String
    package let updateSeqDirectory: String
    package let registry = PrometheusCollectorRegistry()

    package init(simulator: RegistrySimulator, partitions: Int = 12) throws {
        self.simulator = simulator
        cluster = try EmbeddedKafkaCluster(brokerCount: 1, logger: testLogger)
        topic = "changes-\(UInt32.random(in: 0...UInt32.max))"
        try cluster.createTopic(topic, partitions: partitions)
        updateSeqDirectory = try temporaryDirectory()
    }

    package func configuration(_ environment: [String: String] = [:]) throws -> MirrorConfiguration {
        var environment = environment
        let defaults = [
            "KAFKA_TOPIC": topic,
            "NPM_REPLICATE_URL": simulator.replicateURL,
            "NPM_REGISTRY_URL": simulator.registryURL,
            "UPDATE_SEQ_DIR": updateSeqDirectory,
            "UPDATE_SEQ": "0",
            "CHANGES_LIMIT": "25",
            "POLL_INTERVAL": "20ms",
            "POLL_INTERVAL_MAX": "200ms",
            "WATCHDOG_INTERVAL": "10m",
            "HTTP_TIMEOUT": "30s",
        ]
        environment.merge(defaults) { mine, _ in mine }
        return try MirrorConfiguration.load(sources: ConfigurationSources(environment: environment) { _ in nil })
    }

    /// A producer service over these parts.
    /// `messageTimeout` replaces the producer's 5 minutes, so an outage can fail a delivery.
    package func producer(
        _ environment: [String: String] = [:],
        exitWhenCaughtUp: Bool = true,
        messageTimeout: Duration? = nil,
        http: HTTPClient = .shared
    ) throws -> ChangesProducerService {
        let configuration = try configuration(environment)
        let metrics = PrometheusMetricsFactory(registry: registry)
        var producerConfiguration = KafkaProducer.Configuration(client: KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers))
        producerConfiguration.client.reconnectBackoffMax = .milliseconds(500)
        producerConfiguration.linger = .milliseconds(1)
        if let messageTimeout { producerConfiguration.messageTimeout = messageTimeout }
        return ChangesProducerService(
            settings: .init(configuration: configuration, exitWhenCaughtUp: exitWhenCaughtUp),
            feed: ReplicateClient(baseURL: simulator.replicateURL, http: RegistryHTTP(client: http, timeout: .seconds(5), metrics: metrics)),
            producer: try KafkaProducer(configuration: producerConfiguration, logger: testLogger),
            admin: try KafkaAdmin(configuration: KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers), logger: testLogger),
            checkpoints: CheckpointDirectory(path: updateSeqDirectory),
            metrics: metrics,
            logger: testLogger
        )
    }

    /// Every message on the topic, read with a fresh group, decoded.
    package func messages() async throws -> [(message: KafkaConsumerMessage, change: ChangeMessage)] {
        try await readTopic(topic, on: cluster).map { ($0, try ChangeMessage.decode($0.value)) }
    }

    /// The whole feed as the simulator serves it now.
    package func feed() async throws -> [FeedChange] {
        let client = ReplicateClient(baseURL: simulator.replicateURL, http: RegistryHTTP(client: .shared, timeout: .seconds(5), metrics: PrometheusMetricsFactory(registry: PrometheusCollectorRegistry())))
        var since: Int64 = 0
        var all: [FeedChange] = []
        while true {
            let page = try await client.changes(since: since, limit: 10_000)
            all += page.changes
            if page.changes.isEmpty || page.lastSeq <= since { return all }
            since = page.lastSeq
        }
    }

    /// The value of a metric series in the Prometheus text, or nil when absent.
    package func metric(_ name: String, labels: String = "") -> Double? {
        registry.value(of: name, labels: labels)
    }
}

extension PrometheusCollectorRegistry {
    /// The value of a metric series in the Prometheus text, or nil when absent.
    package func value(of name: String, labels: String = "") -> Double? {
        let text = self.emitToString()
        let prefix = labels.isEmpty ? "\(name) " : "\(name){\(labels)} "
        return text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) }
    }
}

/// Runs a producer service until it returns, with a time limit, then flushes and stops the Kafka
/// producer it was made with (the service leaves that to whoever made it); rethrows what it threw.
package func runProducerToEnd(_ service: ChangesProducerService, limit: Duration = .seconds(60)) async throws {
    do {
        try await withinTimeLimit(limit) { try await service.run() }
    } catch {
        await service.producer.shutdown()
        throw error
    }
    await service.producer.shutdown()
}

/// Every message on `topic`, read from the start with a fresh consumer group.
package func readTopic(_ topic: String, on cluster: EmbeddedKafkaCluster, timeout: Duration = .seconds(30)) async throws -> [KafkaConsumerMessage] {
    try await TopicReader.readAll(topic, bootstrapServers: cluster.bootstrapServers, timeout: timeout, logger: testLogger)
}
