import CouchDBDouble
import Foundation
import Logging
import MirrorConfig
import MirrorHarness
import MirrorKafka
import MirrorRecords
import RegistrySimulator
import Synchronization

/// One scenario's world: a registry simulator, a topic on a Kafka cluster, a database on the CouchDB
/// double, a store folder, and the real `changes-producer` / `changes-consumer` binaries to start,
/// kill and restart against them.
final class Rig: Sendable {
    let name: String
    let directory: String
    let binaries: String
    let simulator: RegistrySimulator
    let kafka: EmbeddedKafkaCluster
    let couch: CouchDBDouble
    let logger: Logger
    /// Settings every process of this rig gets, over the rig's own.
    let extraSettings: [Setting: String]
    let configFile: String
    /// The rig's database, read through the same client the consumer writes with.
    let records: CouchDBRecordStore
    /// Every process started, so none outlives a scenario that failed half-way.
    private let children = Mutex<[ChildProcess]>([])

    var topic: String { "chaos-\(name)" }
    var deadLetterTopic: String { "chaos-\(name)-dead" }
    var eventsTopic: String { "chaos-\(name)-events" }
    var group: String { "chaos-\(name)" }
    var database: String { Self.database(for: name) }
    var storeRoot: String { "\(directory)/packages" }
    var scratch: String { "\(directory)/scratch" }

    init(
        name: String,
        directory: String,
        binaries: String,
        simulator: RegistrySimulator,
        kafka: EmbeddedKafkaCluster,
        couch: CouchDBDouble,
        partitions: Int = 6,
        replicationFactor: Int = 1,
        extraSettings: [Setting: String] = [:],
        logger: Logger
    ) throws {
        self.name = name
        self.directory = directory
        self.binaries = binaries
        self.simulator = simulator
        self.kafka = kafka
        self.couch = couch
        self.extraSettings = extraSettings
        self.logger = logger
        try FileManager.default.createDirectory(atPath: "\(directory)/logs", withIntermediateDirectories: true)
        configFile = try HarnessRun.emptyConfigFile(in: "\(directory)/logs")
        records = CouchDBRecordStore(
            configuration: try CouchDBConfiguration(url: couch.url, database: Self.database(for: name), user: couch.adminUser, password: couch.adminPassword),
            logger: logger
        )
        for topic in [topic, deadLetterTopic, eventsTopic] {
            try kafka.createTopic(topic, partitions: partitions, replicationFactor: replicationFactor)
        }
    }

    deinit {
        for child in children.withLock({ $0 }) where !child.hasEnded {
            child.send(SIGKILL)
        }
    }

    static func database(for name: String) -> String { "chaos-\(name)" }

    // MARK: Processes

    private func environment(_ settings: [Setting: String]) -> [String: String] {
        var base: [Setting: String] = [
            .configFile: configFile,
            .kafkaBrokers: kafka.bootstrapServers,
            .kafkaTopic: topic,
            .kafkaDeadLetterTopic: deadLetterTopic,
            .kafkaEventsTopic: eventsTopic,
            .kafkaConsumerGroup: group,
            .kafkaSessionTimeout: "6s",
            .npmReplicateURL: simulator.replicateURL,
            .npmRegistryURL: simulator.registryURL,
            .couchDBURL: couch.url.absoluteString,
            .couchDBUser: couch.adminUser,
            .couchDBPassword: couch.adminPassword,
            .databaseName: database,
            .remotePackageDir: storeRoot,
            .localPackageDir: scratch,
            .updateSeqDir: "\(directory)/update_seq",
            .updateSeq: "0",
            .pollInterval: "100ms",
            .pollIntervalMax: "1s",
            .httpTimeout: "10s",
            .processingRetryMax: "60s",
            .replicaLagWait: "3s",
            .consumerConcurrency: "4",
            .logLevel: "info",
        ]
        base.merge(extraSettings) { $1 }
        base.merge(settings) { $1 }
        return PipelineEnvironment.make(base)
    }

    func startProducer(exitWhenCaughtUp: Bool = true, settings: [Setting: String] = [:]) async throws -> ChildProcess {
        try await track(ChildProcess.start(
            "\(binaries)/changes-producer",
            arguments: exitWhenCaughtUp ? ["--exit-when-caught-up"] : [],
            environment: environment(settings),
            logFile: "\(directory)/logs/producer.log"
        ))
    }

    /// Starts a consumer. `environment`: variables that are not settings (e.g. `NPM_MIRROR_STORE_WRITE_LOG`),
    /// added to the settings'; `log`: the name of its log file in `logs/` (several members of one group
    /// can each have their own).
    func startConsumer(exitWhenIdle: Double? = nil, settings: [Setting: String] = [:], environment extra: [String: String] = [:], log: String = "consumer") async throws -> ChildProcess {
        try await track(ChildProcess.start(
            "\(binaries)/changes-consumer",
            arguments: exitWhenIdle.map { ["--exit-when-idle", "\($0)"] } ?? [],
            environment: environment(settings).merging(extra) { $1 },
            logFile: "\(directory)/logs/\(log).log"
        ))
    }

    private func track(_ child: ChildProcess) -> ChildProcess {
        children.withLock { $0.append(child) }
        return child
    }

    /// Runs the producer until it has caught up with the feed; it must exit 0.
    func produceToEnd(settings: [Setting: String] = [:], timeout: Duration = .seconds(300)) async throws {
        let result = try await startProducer(settings: settings).wait(timeout: timeout)
        guard result.succeeded else { throw ChaosError("\(name): changes-producer ended with \(result.ending); see \(directory)/logs/producer.log") }
    }

    /// Runs one consumer until the topic is consumed and idle; it must exit 0.
    func consumeToEnd(settings: [Setting: String] = [:], timeout: Duration = .seconds(600)) async throws {
        let result = try await startConsumer(exitWhenIdle: 2, settings: settings).wait(timeout: timeout)
        guard result.succeeded else { throw ChaosError("\(name): changes-consumer ended with \(result.ending); see \(directory)/logs/consumer.log") }
    }

    /// Waits until the registry has served `more` requests beyond `baseline` (the process is at work).
    func waitForRequests(beyond baseline: Int, more: Int = 1, timeout: Duration = .seconds(60)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if simulator.requestTotal >= baseline + more { return true }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    // MARK: Records

    /// Every document id of the rig's database with its revision (none before the database exists).
    func documents() async throws -> [String: String] {
        do {
            let stored = try await records.readAll(limit: Int(Int32.max))
            return Dictionary(stored.map { ($0.id, $0.revision ?? "") }, uniquingKeysWith: { first, _ in first })
        } catch let error as RecordStoreError where error.code == .notFound {
            return [:]
        }
    }
}

struct ChaosError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
