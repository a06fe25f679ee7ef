import AsyncHTTPClient
import CouchDBDouble
import Foundation
import Logging
import MirrorConfig
import MirrorKafka
import MirrorPipeline
import MirrorRecords
import MirrorStore
import NIOCore
import NPMRegistry
import Prometheus
import RegistrySimulator

/// A producer harness plus what a consumer needs: a CouchDB double, a store and scratch directory.
package struct ConsumerHarness {
    package let producer: ProducerHarness
    package let couch: CouchDBDouble
    package let storeRoot: String
    package let scratch: String
    package let database = "mirror-\(UInt32.random(in: 0...UInt32.max))"
    package let registry = PrometheusCollectorRegistry()
    /// The simulator's signing keys as a keys file (`NPM_SIGNING_KEYS` by default).
    package let signingKeysFile: String

    package var simulator: RegistrySimulator { producer.simulator }
    package var cluster: EmbeddedKafkaCluster { producer.cluster }

    package init(simulator: RegistrySimulator, couch: CouchDBDouble, partitions: Int = 6) throws {
        producer = try ProducerHarness(simulator: simulator, partitions: partitions)
        self.couch = couch
        storeRoot = try temporaryDirectory()
        scratch = try temporaryDirectory()
        signingKeysFile = try temporaryDirectory() + "/registry-keys.json"
        try Data(simulator.signingKeysDocument).write(to: URL(fileURLWithPath: signingKeysFile))
        try cluster.createTopic("npm-changes-skipped", partitions: 1)
        try cluster.createTopic("npm-mirror-events", partitions: 1)
    }

    /// Produces the whole feed to the topic.
    package func produceFeed() async throws {
        try await runProducerToEnd(try producer.producer())
    }

    package func configuration(_ environment: [String: String] = [:]) throws -> MirrorConfiguration {
        var environment = environment
        let defaults = [
            "REMOTE_PACKAGE_DIR": storeRoot,
            "LOCAL_PACKAGE_DIR": scratch,
            "KAFKA_CONSUMER_GROUP": "group-\(producer.topic)",
            "KAFKA_SESSION_TIMEOUT": "6s",
            "CONSUMER_CONCURRENCY": "4",
            "SUBDIRECTORY_HASH_LENGTH": "2",
            "OLD_PACKAGE_VERSIONS_LIMIT": "3",
            "MAX_SIZE": "50MB",
            "REPLICA_LAG_WAIT": "3s",
            "PROCESSING_RETRY_MAX": "2m",
            "NPM_SIGNING_KEYS": signingKeysFile,
        ]
        environment.merge(defaults) { mine, _ in mine }
        return try producer.configuration(environment)
    }

    package var records: CouchDBRecordStore {
        get throws {
            CouchDBRecordStore(
                configuration: try CouchDBConfiguration(url: couch.url.absoluteString, database: database, user: "admin", password: "s3cret-pw"),
                logger: testLogger
            )
        }
    }

    package func application(_ environment: [String: String] = [:], exitWhenIdle: Duration? = .seconds(2)) throws -> ConsumerApplication {
        try ConsumerApplication(
            configuration: try configuration(environment),
            bootstrapServers: cluster.bootstrapServers,
            records: try records,
            exitWhenIdle: exitWhenIdle,
            metricsRegistry: registry,
            logger: testLogger
        )
    }

    /// Runs a consumer until it is idle (or the limit passes). The limit only guards against a hang: on
    /// CI's two cores, beside the rest of the suite, 60 packages have taken over 90 s in a debug build.
    package func consumeAll(_ environment: [String: String] = [:], limit: Duration = .seconds(180)) async throws {
        let application = try application(environment)
        try await withinTimeLimit(limit) { try await application.runConsumer() }
    }

    package var store: PackageStore {
        get throws { try PackageStore(root: storeRoot, scratch: scratch, shardLength: 2, packumentRevisionsKept: 3) }
    }

    /// Every record, by id.
    package func allRecords() async throws -> [String: [String: JSONValue]] {
        let stored = try await records.readAll(limit: 100_000)
        return Dictionary(uniqueKeysWithValues: stored.map { ($0.id, $0.body) })
    }

    /// Messages on a side topic (dead letters, events), as JSON objects.
    package func sideTopic(_ topic: String) async throws -> [[String: Any]] {
        try await readTopic(topic, on: cluster).compactMap { try? JSONSerialization.jsonObject(with: Data($0.value)) as? [String: Any] }
    }

    /// Committed offsets equal the end of every partition of the changes topic.
    package func committedToEnd() async throws -> Bool {
        let admin = try KafkaAdmin(configuration: KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers), logger: testLogger)
        let marks = try await admin.watermarks(topic: producer.topic)
        var configuration = KafkaConsumer.Configuration(client: KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers), groupID: "group-\(producer.topic)")
        configuration.sessionTimeout = .seconds(6)
        let probe = try KafkaConsumer(configuration: configuration, logger: testLogger)
        let committed = try await probe.committedOffsets(for: marks.keys.map { KafkaTopicPartition(topic: producer.topic, partition: $0) })
        await probe.close()
        return marks.allSatisfy { partition, mark in
            mark.high == mark.low || committed[KafkaTopicPartition(topic: producer.topic, partition: partition)] == mark.high
        }
    }

    package func metric(_ name: String, labels: String = "") -> Double? {
        registry.value(of: name, labels: labels)
    }

    /// Files under the store root whose names mark them as temporary, or empty files.
    package func partialFiles() throws -> [String] {
        let enumerator = FileManager.default.enumerator(atPath: storeRoot)
        var found: [String] = []
        while let path = enumerator?.nextObject() as? String {
            let name = (path as NSString).lastPathComponent
            if name.hasPrefix(".tmp-") || name.contains(".tmp") { found.append(path) }
        }
        return found
    }
}

/// Runs `body` with a consumer harness over `simulator` and a fresh CouchDB double, stopping the double
/// afterwards (also on failure).
package func withConsumerHarness<T>(
    simulator: RegistrySimulator,
    partitions: Int = 6,
    _ body: (ConsumerHarness) async throws -> T
) async throws -> T {
    try await withCouchDBDouble(adminUser: "admin", adminPassword: "s3cret-pw") { couch in
        try await body(try ConsumerHarness(simulator: simulator, couch: couch, partitions: partitions))
    }
}

/// The packument the simulator serves for `name` now, parsed.
package func servedPackument(_ simulator: RegistrySimulator, _ name: String) async throws -> Packument? {
    let client = PackageClient(registryURL: simulator.registryURL, http: RegistryHTTP(client: .shared, timeout: .seconds(10), metrics: PrometheusMetricsFactory(registry: PrometheusCollectorRegistry())))
    do {
        let body = try await client.packument(name, maxBytes: 1 << 28)
        return try body.withUnsafeReadableBytes { try Packument.parse($0, expectedName: name) }
    } catch let error as RegistryError where error.code == .notFound {
        return nil
    }
}
