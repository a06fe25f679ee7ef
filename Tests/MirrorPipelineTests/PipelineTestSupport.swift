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
import Testing

let testLogger: Logger = {
    var logger = Logger(label: "pipeline-tests") { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = .error
    return logger
}()

/// A fresh temporary directory.
func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "npm-mirror-test-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// Starts a simulator with `packages` generated packages.
func startSimulator(packages: Int = 60, seed: UInt64 = 11, _ configure: (inout RegistrySimulator.Configuration) -> Void = { _ in }) async throws -> RegistrySimulator {
    var configuration = RegistrySimulator.Configuration()
    configuration.packages = packages
    configuration.seed = seed
    configure(&configuration)
    var logger = testLogger
    logger.logLevel = .critical
    return try await RegistrySimulator.start(configuration: configuration, logger: logger)
}

/// Everything a producer test needs: a simulator, an embedded cluster with the topic, a checkpoint
/// directory, and a configuration pointing at them (with short intervals).
struct ProducerHarness {
    let simulator: RegistrySimulator
    let cluster: EmbeddedKafkaCluster
    let topic: String
    let updateSeqDirectory: String
    let registry = PrometheusCollectorRegistry()

    init(simulator: RegistrySimulator, partitions: Int = 12) throws {
        self.simulator = simulator
        cluster = try EmbeddedKafkaCluster(brokerCount: 1, logger: testLogger)
        topic = "changes-\(UInt32.random(in: 0...UInt32.max))"
        try cluster.createTopic(topic, partitions: partitions)
        updateSeqDirectory = try temporaryDirectory()
    }

    func configuration(_ environment: [String: String] = [:]) throws -> MirrorConfiguration {
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
    func producer(
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
    func messages() async throws -> [(message: KafkaConsumerMessage, change: ChangeMessage)] {
        try await readTopic(topic, on: cluster).map { ($0, try ChangeMessage.decode($0.value)) }
    }

    /// The whole feed as the simulator serves it now.
    func feed() async throws -> [FeedChange] {
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
    func metric(_ name: String, labels: String = "") -> Double? {
        let text = registry.emitToString()
        let prefix = labels.isEmpty ? "\(name) " : "\(name){\(labels)} "
        return text.split(separator: "\n").first { $0.hasPrefix(prefix) }.flatMap { Double($0.dropFirst(prefix.count)) }
    }
}

/// Runs `service` until it returns, with a time limit; returns what it threw, if anything.
func runToEnd(_ service: ChangesProducerService, limit: Duration = .seconds(60)) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await service.run() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimeLimitExceeded()
        }
        try await group.next()
        group.cancelAll()
    }
}

struct TimeLimitExceeded: Error {}

/// Checks `condition` every 50 ms until it holds or `limit` passes; returns whether it held.
func eventually(within limit: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + limit
    while true {
        if try await condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(50))
    }
}

/// Every message on `topic`, read from the start with a fresh consumer group.
func readTopic(_ topic: String, on cluster: EmbeddedKafkaCluster, timeout: Duration = .seconds(30)) async throws -> [KafkaConsumerMessage] {
    try await TopicReader.readAll(topic, bootstrapServers: cluster.bootstrapServers, timeout: timeout, logger: testLogger)
}
