import AsyncHTTPClient
import CouchDBDouble
import Foundation
import Logging
import MirrorConfig
import MirrorHarness
import MirrorKafka
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
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
    /// Every process started, so none outlives a scenario that failed half-way.
    private let children = Mutex<[ChildProcess]>([])

    var topic: String { "chaos-\(name)" }
    var deadLetterTopic: String { "chaos-\(name)-dead" }
    var eventsTopic: String { "chaos-\(name)-events" }
    var group: String { "chaos-\(name)" }
    var database: String { "chaos-\(name)" }
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
        try "{}".write(toFile: "\(directory)/logs/config.json", atomically: true, encoding: .utf8)
        for topic in [topic, deadLetterTopic, eventsTopic] {
            try kafka.createTopic(topic, partitions: partitions, replicationFactor: replicationFactor)
        }
    }

    deinit {
        for child in children.withLock({ $0 }) where !child.hasEnded {
            child.send(SIGKILL)
        }
    }

    // MARK: Processes

    private func environment(_ settings: [Setting: String]) -> [String: String] {
        var base: [Setting: String] = [
            .configFile: "\(directory)/logs/config.json",
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

    func startProducer(exitWhenCaughtUp: Bool = true, settings: [Setting: String] = [:]) throws -> ChildProcess {
        try track(ChildProcess.start(
            "\(binaries)/changes-producer",
            arguments: exitWhenCaughtUp ? ["--exit-when-caught-up"] : [],
            environment: environment(settings),
            logFile: "\(directory)/logs/producer.log"
        ))
    }

    func startConsumer(exitWhenIdle: Double? = nil, settings: [Setting: String] = [:]) throws -> ChildProcess {
        try track(ChildProcess.start(
            "\(binaries)/changes-consumer",
            arguments: exitWhenIdle.map { ["--exit-when-idle", "\($0)"] } ?? [],
            environment: environment(settings),
            logFile: "\(directory)/logs/consumer.log"
        ))
    }

    private func track(_ child: ChildProcess) -> ChildProcess {
        children.withLock { $0.append(child) }
        return child
    }

    /// Runs the producer until it has caught up with the feed; it must exit 0.
    func produceToEnd(settings: [Setting: String] = [:], timeout: Duration = .seconds(300)) async throws {
        let result = try await Self.finish(try startProducer(settings: settings), timeout: timeout)
        guard result.succeeded else { throw ChaosError("\(name): changes-producer ended with \(result.ending); see \(directory)/logs/producer.log") }
    }

    /// Runs one consumer until the topic is consumed and idle; it must exit 0.
    func consumeToEnd(settings: [Setting: String] = [:], timeout: Duration = .seconds(600)) async throws {
        let result = try await Self.finish(try startConsumer(exitWhenIdle: 2, settings: settings), timeout: timeout)
        guard result.succeeded else { throw ChaosError("\(name): changes-consumer ended with \(result.ending); see \(directory)/logs/consumer.log") }
    }

    static func finish(_ child: ChildProcess, timeout: Duration) async throws -> ChildResult {
        let killer = Task {
            try await Task.sleep(for: timeout)
            child.send(SIGKILL)
        }
        defer { killer.cancel() }
        return try await child.wait()
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

    /// Every document id of the rig's database with its revision.
    func documents() async throws -> [String: String] {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            var request = HTTPClientRequest(url: "\(couch.url.absoluteString)/\(database)/_all_docs")
            let credentials = Data("\(couch.adminUser):\(couch.adminPassword)".utf8).base64EncodedString()
            request.headers.add(name: "Authorization", value: "Basic \(credentials)")
            let response = try await client.execute(request, timeout: .seconds(60))
            let body = try await response.body.collect(upTo: 1 << 30)
            try await client.shutdown()
            guard response.status == .ok else {
                if response.status == .notFound { return [:] }
                throw ChaosError("\(name): _all_docs answered \(response.status)")
            }
            let object = try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any]
            let rows = object?["rows"] as? [[String: Any]] ?? []
            return Dictionary(uniqueKeysWithValues: rows.compactMap { row in
                guard let id = row["id"] as? String, let rev = (row["value"] as? [String: Any])?["rev"] as? String else { return nil }
                return (id, rev)
            })
        } catch {
            try? await client.shutdown()
            throw error
        }
    }
}

struct ChaosError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
