import Foundation
import Logging
import MirrorEmbedded
import MirrorConfig
import MirrorKafka
import MirrorPipeline
import MirrorRecords
import MirrorStore
import RegistrySimulator

/// `npm-mirror demo`: the registry simulator, the embedded broker and the embedded database in one
/// process, a small generated registry mirrored to the end, and a summary of what is where.
///
/// Everything it writes goes under one folder (`./demo` by default), cleared at the start, so a demo
/// never resumes from an earlier one.
public enum MirrorDemo {
    public struct Summary: Sendable, CustomStringConvertible {
        public var changes: Int
        public var packages: Int
        public var deletedOrUnpublished: Int
        public var deadLettered: Int
        public var tarballs: Int
        public var tarballBytes: Int64
        public var records: Int
        public var seconds: Double
        public var storeDirectory: String
        public var recordsLocation: String
        public var updateSeqDirectory: String

        public var description: String {
            """
            npm-mirror demo: done in \(String(format: "%.1f", seconds)) s
              changes mirrored      \(changes)
              packages recorded     \(packages) (\(deletedOrUnpublished) deleted or unpublished)
              changes dead-lettered \(deadLettered)
              tarballs stored       \(tarballs) (\(ByteCountFormatter.string(fromByteCount: tarballBytes, countStyle: .file)))
              records               \(records)
              package store         \(storeDirectory)
              record database       \(recordsLocation)
              checkpoints           \(updateSeqDirectory)
            """
        }
    }

    /// Runs the demo in `directory` over `packages` generated packages; `configureSimulator` may
    /// change the generated registry further (the serve end-to-end test asks for dependencies npm
    /// can resolve).
    public static func run(
        base: MirrorConfiguration,
        directory: String,
        packages: Int,
        seed: UInt64,
        configureSimulator: (inout RegistrySimulator.Configuration) -> Void = { _ in },
        logger: Logger
    ) async throws -> Summary {
        let started = ContinuousClock.now
        let root = URL(fileURLWithPath: directory).standardizedFileURL.path
        guard root != "/", !root.isEmpty else { throw DemoError(message: "refusing to use \(directory) as the demo folder") }
        try? FileManager.default.removeItem(atPath: root)
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)

        var simulatorConfiguration = RegistrySimulator.Configuration()
        simulatorConfiguration.packages = packages
        simulatorConfiguration.seed = seed
        configureSimulator(&simulatorConfiguration)
        var quiet = logger
        quiet.logLevel = .warning
        return try await withRegistrySimulator(configuration: simulatorConfiguration, logger: quiet) { simulator in
            let configuration = try Self.configuration(base: base, simulator: simulator, directory: root)
            logger.notice("Demo: mirroring a generated registry", metadata: ["packages": "\(packages)", "seed": "\(seed)", "folder": "\(root)"])

            let mirror = try EmbeddedMirror(configuration: configuration, consumers: 1, exitWhenCaughtUp: true, exitWhenIdle: .seconds(2), logger: logger)
            let summary: Summary
            do {
                try await mirror.producer.producerService.run()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for consumer in mirror.consumers { group.addTask { try await consumer.consumerService.run() } }
                    try await group.waitForAll()
                }
                summary = try await summarize(mirror, seconds: ContinuousClock.now - started)
            } catch {
                await mirror.shutdownClients()
                throw error
            }
            await mirror.shutdownClients()
            return summary
        }
    }

    /// `base` pointed at `simulator` and at folders under `directory` (made absolute by the caller):
    /// an embedded broker, the embedded database, start at seq 0, the simulator's signing keys
    /// trusted (written to `directory/registry-keys.json`). Tests run mirrors of their own with it.
    public static func configuration(base: MirrorConfiguration, simulator: RegistrySimulator, directory root: String) throws -> MirrorConfiguration {
        var configuration = base
        configuration.registry.replicateURL = simulator.replicateURL
        configuration.registry.registryURL = simulator.registryURL
        configuration.kafka.brokers = nil
        configuration.records.couchDBURL = nil
        configuration.startSequence = .seq(0)
        configuration.storage.remotePackageDirectory = root + "/packages"
        configuration.storage.localPackageDirectory = root + "/temp_packages"
        configuration.storage.updateSeqDirectory = root + "/update_seq"
        configuration.records.dbdataDirectory = root + "/dbdata"
        // The simulator signs with keys of its own: the mirror trusts exactly those.
        let keysFile = root + "/registry-keys.json"
        try Data(simulator.signingKeysDocument).write(to: URL(fileURLWithPath: keysFile))
        configuration.consumer.signatures.keysFile = keysFile
        configuration.consumer.sessionTimeout = .seconds(6)
        configuration.producer.pollInterval = .milliseconds(50)
        return configuration
    }

    /// What is on disk and in the record store now.
    static func summarize(_ mirror: EmbeddedMirror, seconds: Duration) async throws -> Summary {
        // Counted page by page: the demo's registry is small, but nothing here reads a whole store at once.
        var counts = (changes: 0, packages: 0, gone: 0, deadLettered: 0, records: 0)
        for try await page in mirror.records.recordPages() {
            counts.records += page.count
            for record in page {
                switch record.body["type"]?.stringValue {
                case "package":
                    counts.packages += 1
                    if record.body["deleted"]?.boolValue == true || record.body["unpublished"]?.boolValue == true { counts.gone += 1 }
                case "change":
                    counts.changes += 1
                    if record.body["outcome"]?.stringValue == "dead_lettered" { counts.deadLettered += 1 }
                default:
                    break
                }
            }
        }
        let census = StoreCensus.count(under: mirror.configuration.storage.remotePackageDirectory)
        return Summary(
            changes: counts.changes,
            packages: counts.packages,
            deletedOrUnpublished: counts.gone,
            deadLettered: counts.deadLettered,
            tarballs: census.tarballs,
            tarballBytes: census.bytes,
            records: counts.records,
            seconds: seconds / .seconds(1),
            storeDirectory: mirror.configuration.storage.remotePackageDirectory,
            recordsLocation: mirror.recordsLocation,
            updateSeqDirectory: mirror.configuration.storage.updateSeqDirectory
        )
    }
}

public struct DemoError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
