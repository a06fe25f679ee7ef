import AsyncHTTPClient
import CouchDBDouble
import Crypto
import Foundation
import Logging
import Metrics
import MirrorConfig
import MirrorHarness
import MirrorKafka
import MirrorSignatures
import MirrorStore
import MirrorVerify
import NIOCore
import NPMRegistry
import RegistrySimulator
import NPMNames

/// Runs the stages of one benchmark: the real `changes-producer` and `changes-consumer` binaries
/// and `curl` as child processes, against a registry simulator, an embedded Kafka cluster and a
/// CouchDB double that live in this process.
struct Bench: Sendable {
    let binaries: String
    let workDirectory: String
    let configFile: String
    let kafka: EmbeddedKafkaCluster
    let couch: CouchDBDouble
    let concurrency: Int
    let seed: UInt64
    let childLogLevel: String
    /// Extra settings of every consumer run (`--consumer-setting`).
    var consumerSettings: [Setting: String] = [:]
    /// When set, producers and consumers run under `perf record`, their profiles written here.
    let profileDirectory: String?
    let logger: Logger

    /// Topic partitions: the default of `KAFKA_TOPIC_NUM_PARTITIONS`.
    private let partitions = 12
    private let versionsLimit = Int(Setting.oldPackageVersionsLimit.defaultValue!)!
    /// The consumers run with `SUBDIRECTORY_HASH_LENGTH` at its default: the stores' shard length.
    private let shardLength = Int(Setting.subdirectoryHashLength.defaultValue!)!

    // MARK: Variant

    func run(_ workload: Workload) async throws -> VariantResults {
        let directory = "\(workDirectory)/\(workload.name)"
        logger.notice("variant \(workload.name): producer, feed only (\(workload.feedPackages) packages)")
        let producer = try await withSimulator(packages: workload.feedPackages) { simulator in
            try await produce(simulator, scenario: "\(workload.name)-feed", directory: "\(directory)/feed")
        }

        logger.notice("variant \(workload.name): end to end (\(workload.packages) packages)")
        return try await withSimulator(
            packages: workload.packages,
            hugePackumentBytes: workload.hugePackumentBytes,
            hugeTarballBytes: workload.hugeTarballBytes
        ) { simulator in
            let scenario = "\(workload.name)-e2e"
            let producerEndToEnd = try await produce(simulator, scenario: scenario, directory: "\(directory)/e2e")
            let (urls, gone) = try await discoverURLs(simulator)
            logger.notice("variant \(workload.name): \(urls.count) URLs; warming the simulator's caches")
            _ = try await curl(urls, directory: "\(directory)/curl-warm", keep: false)
            logger.notice("variant \(workload.name): curl")
            let curl = try await curl(urls, directory: "\(directory)/curl", keep: true)
            // The metadata-only run's limit: the packuments alone (tarball paths hold "/-/", packument paths never do).
            logger.notice("variant \(workload.name): curl, packuments only")
            let curlPackuments = try await self.curl(urls.filter { !$0.contains("/-/") }, directory: "\(directory)/curl-packuments", keep: true)
            logger.notice("variant \(workload.name): consumer")
            simulator.resetRequestCounts()
            let consumer = try await consume(simulator, scenario: scenario, mode: "full", directory: "\(directory)/e2e", fetchTarballs: true, maxSize: workload.hugeTarballBytes)
            let requested = Set(simulator.requestCounts.paths.keys.filter { Self.isRegistryPath($0) })
            let discovered = Set(urls.map { URL(string: $0)!.path(percentEncoded: true) } + gone)
            logger.notice("variant \(workload.name): consumer, metadata only")
            let metadataOnly = try await consume(simulator, scenario: scenario, mode: "meta", directory: "\(directory)/e2e", fetchTarballs: false, maxSize: workload.hugeTarballBytes)
            logger.notice("variant \(workload.name): npm-mirror verify over the full run's store")
            let verify = try await verifyStore(simulator, root: "\(directory)/e2e/consumer-full")
            logger.notice("variant \(workload.name): the floor of the work, on one thread")
            let cost = try measureCost(directory: "\(directory)/e2e", consumer: consumer, metadataOnly: metadataOnly)
            logger.notice("variant \(workload.name): npm-mirror export over the full run's store and records")
            let environment = consumerEnvironment(
                simulator, scenario: scenario, mode: "full", root: "\(directory)/e2e/consumer-full", fetchTarballs: true, maxSize: workload.hugeTarballBytes,
                metricsFile: "\(directory)/e2e/export-metrics.prom")
            let export = try await Self.measureExport(
                binaries: binaries, environment: environment, directory: "\(directory)/e2e/export", timeout: .seconds(3600))
            let memoryPair = workload.memoryPairPackages > 0 ? try await measureMemoryPair(workload, directory: "\(directory)/memory") : nil
            return VariantResults(
                workload: workload,
                producer: producer,
                producerEndToEnd: producerEndToEnd,
                consumer: consumer,
                metadataOnly: metadataOnly,
                curl: curl,
                consumerVsCurl: consumer.workingSeconds > 0 ? curl.wallSeconds / consumer.workingSeconds : 0,
                curlPackuments: curlPackuments,
                metadataOnlyVsCurl: metadataOnly.workingSeconds > 0 ? curlPackuments.wallSeconds / metadataOnly.workingSeconds : 0,
                urlSetDifference: requested.symmetricDifference(discovered).count,
                deletedPackages: gone.count,
                memoryPair: memoryPair,
                verify: verify,
                cost: cost,
                export: export
            )
        }
    }

    /// The consumer's CPU per package and per MB beside the floors, measured over the stores the
    /// full and the metadata-only runs left in `directory`.
    private func measureCost(directory: String, consumer: ConsumerFigures, metadataOnly: ConsumerFigures) throws -> CostFigures {
        let floors = Floors()
        let tarballs = try floors.tarballs(storeRoot: "\(directory)/consumer-full/packages", scratch: "\(directory)/consumer-full/scratch", shardLength: shardLength)
        if tarballs.tarballs != consumer.tarballs {
            logger.warning("the floor found \(tarballs.tarballs) tarballs in the full run's store; the consumer downloaded \(consumer.tarballs)")
        }
        let metadata = try floors.metadata(
            storeRoot: "\(directory)/consumer-meta/packages", scratch: "\(directory)/consumer-meta/scratch", shardLength: shardLength,
            output: "\(directory)/floor-metadata"
        )
        return CostFigures(consumer: consumer, metadataOnly: metadataOnly, tarballFloor: tarballs, metadataFloor: metadata)
    }

    /// The same small workload consumed twice, without and with the huge tarball.
    private func measureMemoryPair(_ workload: Workload, directory: String) async throws -> MemoryPair {
        var peaks: [Int64] = []
        for (label, huge) in [("without", 0), ("with", workload.hugeTarballBytes)] {
            logger.notice("variant \(workload.name): memory pair, \(label) the huge tarball")
            let figures = try await withSimulator(packages: workload.memoryPairPackages, hugeTarballBytes: huge) { simulator in
                let scenario = "\(workload.name)-memory-\(label)"
                _ = try await produce(simulator, scenario: scenario, directory: "\(directory)/\(label)")
                let urls = try await discoverURLs(simulator).urls
                _ = try await curl(urls, directory: "\(directory)/\(label)/curl-warm", keep: false)
                return try await consume(simulator, scenario: scenario, mode: "full", directory: "\(directory)/\(label)", fetchTarballs: true, maxSize: workload.hugeTarballBytes)
            }
            peaks.append(figures.peakRSSBytes)
        }
        return MemoryPair(hugeTarballBytes: workload.hugeTarballBytes, withoutPeakRSSBytes: peaks[0], withPeakRSSBytes: peaks[1], differenceBytes: peaks[1] - peaks[0])
    }

    func withSimulator<T: Sendable>(
        packages: Int,
        hugePackumentBytes: Int = 0,
        hugeTarballBytes: Int = 0,
        _ body: (RegistrySimulator) async throws -> T
    ) async throws -> T {
        var configuration = RegistrySimulator.Configuration()
        configuration.packages = packages
        configuration.seed = seed
        configuration.hugePackumentBytes = hugePackumentBytes
        configuration.hugeTarballBytes = hugeTarballBytes
        // Every tarball a run fetches stays built, so no stage pays for building them.
        configuration.tarballCacheBytes = 8 << 30
        configuration.packumentCacheBytes = 2 << 30
        return try await withRegistrySimulator(configuration: configuration, logger: Logger(label: "bench.simulator", factory: { _ in SwiftLogNoOpLogHandler() }), body)
    }

    // MARK: Producer

    func produce(_ simulator: RegistrySimulator, scenario: String, directory: String) async throws -> ProducerFigures {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try kafka.createTopic(topic(scenario), partitions: partitions)
        let metricsFile = "\(directory)/producer.prom"
        let (executable, arguments) = profiled("\(binaries)/changes-producer", ["--exit-when-caught-up"], as: "\(scenario)-producer")
        let result = try await ChildProcess.run(
            executable,
            arguments: arguments,
            environment: environment([
                .kafkaTopic: topic(scenario),
                .npmReplicateURL: simulator.replicateURL,
                .updateSeq: "0",
                .updateSeqDir: "\(directory)/producer-seq",
                .metricsFile: metricsFile,
            ]),
            logFile: "\(directory)/producer.log",
            measured: true,
            timeout: .seconds(1200)
        )
        guard result.succeeded else {
            throw BenchError("changes-producer ended with \(result.ending); see \(directory)/producer.log")
        }
        let metrics = try MetricsText(contentsOf: metricsFile)
        let changes = Int(metrics.sum("npm_mirror_producer_changes_produced_total"))
        let expected = simulator.packageNames.count
        guard changes == expected else {
            throw BenchError("changes-producer produced \(changes) changes; the feed has \(expected)")
        }
        return ProducerFigures(
            changes: changes,
            wallSeconds: result.wallSeconds,
            changesPerSecond: Double(changes) / result.wallSeconds,
            peakRSSBytes: result.peakRSSBytes ?? 0,
            cpuSeconds: result.cpuSeconds
        )
    }

    // MARK: Consumer

    private func consume(
        _ simulator: RegistrySimulator,
        scenario: String,
        mode: String,
        directory: String,
        fetchTarballs: Bool,
        maxSize: Int
    ) async throws -> ConsumerFigures {
        let root = "\(directory)/consumer-\(mode)"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let metricsFile = "\(root)/consumer.prom"
        let baseline = simulator.requestTotal
        // The working time starts with the consumer's first request to the registry.
        let firstRequest = Task { () -> Double? in
            while !Task.isCancelled {
                if simulator.requestTotal > baseline { return Date().timeIntervalSince1970 }
                try? await Task.sleep(for: .milliseconds(2))
            }
            return nil
        }
        let (executable, arguments) = profiled("\(binaries)/changes-consumer", ["--exit-when-idle", "1"], as: "\(scenario)-consumer-\(mode)")
        let machineBefore = MachineCPU.busySeconds()
        let result = try await ChildProcess.run(
            executable,
            arguments: arguments,
            environment: consumerEnvironment(simulator, scenario: scenario, mode: mode, root: root, fetchTarballs: fetchTarballs, maxSize: maxSize, metricsFile: metricsFile),
            logFile: "\(root)/consumer.log",
            measured: true,
            timeout: .seconds(3600)
        )
        let machineCPU = MachineCPU.busySeconds() - machineBefore
        firstRequest.cancel()
        guard result.succeeded else {
            throw BenchError("changes-consumer ended with \(result.ending); see \(root)/consumer.log")
        }
        let metrics = try MetricsText(contentsOf: metricsFile)
        let changes = Int(metrics.sum("npm_mirror_consumer_changes_total"))
        let deadLettered = Int(metrics.sum("npm_mirror_consumer_changes_total", matching: ["result": "dead_lettered"]))
        guard changes == simulator.packageNames.count else {
            throw BenchError("changes-consumer finished \(changes) changes; the topic has \(simulator.packageNames.count)")
        }
        let started = await firstRequest.value ?? 0
        let finished = metrics.sum("npm_mirror_consumer_last_change_timestamp_seconds")
        let working = started > 0 && finished > started ? finished - started : result.wallSeconds
        let tarballBytes = Int64(metrics.sum("npm_mirror_consumer_tarball_bytes_total"))
        return ConsumerFigures(
            changes: changes,
            deadLettered: deadLettered,
            tarballs: Int(metrics.sum("npm_mirror_consumer_tarballs_downloaded_total")),
            tarballBytes: tarballBytes,
            packumentBytes: Int64(metrics.sum("npm_mirror_consumer_packument_bytes_total")),
            workingSeconds: working,
            wallSeconds: result.wallSeconds,
            packagesPerSecond: Double(changes) / working,
            tarballMBPerSecond: Double(tarballBytes) / 1e6 / working,
            peakRSSBytes: result.peakRSSBytes ?? 0,
            cpuSeconds: result.cpuSeconds,
            machineCPUSeconds: machineCPU,
            stages: Self.stages(metrics)
        )
    }

    /// The consumer's own stage timers, largest first.
    static func stages(_ metrics: MetricsText) -> [StageFigures] {
        let name = "npm_mirror_consumer_stage_duration_seconds"
        let stages = metrics.labelValues("\(name)_sum", label: "stage").map { stage in
            (stage, metrics.sum("\(name)_sum", matching: ["stage": stage]), Int(metrics.sum("\(name)_count", matching: ["stage": stage])))
        }
        let total = stages.reduce(0) { $0 + $1.1 }
        return stages
            .map { StageFigures(stage: $0.0, seconds: $0.1, count: $0.2, share: total > 0 ? $0.1 / total : 0) }
            .sorted { $0.seconds > $1.seconds }
    }

    // MARK: The raw-download limit

    /// The URLs the consumer will fetch: every packument, and the tarballs of the versions it
    /// keeps, chosen by the same rule (``VersionRetention``, `OLD_PACKAGE_VERSIONS_LIMIT`'s default).
    /// Deleted packages answer 404: they are returned apart, as paths, since curl cannot fetch them.
    private func discoverURLs(_ simulator: RegistrySimulator) async throws -> (urls: [String], gone: [String]) {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        do {
            let found = try await discoverURLs(simulator, client: client)
            try await client.shutdown()
            return found
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    private func discoverURLs(_ simulator: RegistrySimulator, client: HTTPClient) async throws -> (urls: [String], gone: [String]) {
        let packages = PackageClient(
            registryURL: simulator.registryURL,
            http: RegistryHTTP(client: client, timeout: .seconds(120), metrics: NOOPMetricsHandler.instance)
        )
        let names = simulator.packageNames
        let registryURL = simulator.registryURL
        let limit = versionsLimit
        var urls: [String] = []
        var gone: [String] = []
        try await withThrowingTaskGroup(of: (urls: [String], gone: String?).self) { group in
            var next = names.makeIterator()
            func add(_ name: String) {
                group.addTask {
                    let body: ByteBuffer
                    do {
                        body = try await packages.packument(name, maxBytes: Int.max)
                    } catch let error as RegistryError where error.code == .notFound {
                        return ([], PackageName.registryPath(name))
                    }
                    let packument = try body.withUnsafeReadableBytes { try Packument.parse($0, expectedName: name) }
                    var found = [registryURL + PackageName.registryPath(name)]
                    if !packument.isUnpublished {
                        let keep = VersionRetention.versionsToKeep(versions: packument.versions.keys, time: packument.time, latest: packument.latest, limit: limit)
                        let kept = keep.sorted().compactMap { packument.versions[$0] }
                        found += kept.map { Packument.tarballURL(name: name, version: $0, registryURL: registryURL) }
                        // The consumer also reads the attestations of kept versions that have them.
                        found += kept.filter { $0.attestationsURL != nil }.map { registryURL + PackageName.attestationsPath(name: name, version: $0.version) }
                    }
                    return (found, nil)
                }
            }
            for _ in 0..<16 { if let name = next.next() { add(name) } }
            for try await found in group {
                urls += found.urls
                gone += found.gone.map { [$0] } ?? []
                if let name = next.next() { add(name) }
            }
        }
        // The consumer reads the registry's keys once at start.
        urls.append(registryURL + "/-/npm/v1/keys")
        return (urls.sorted(), gone)
    }

    /// Fetches `urls` with curl at the consumer's parallelism, into files on the same disk
    /// (or into /dev/null to warm the simulator up).
    private func curl(_ urls: [String], directory: String, keep: Bool) async throws -> CurlFigures {
        try FileManager.default.createDirectory(atPath: "\(directory)/files", withIntermediateDirectories: true)
        var config = """
            header = "Accept: application/json"
            fail
            silent
            show-error
            parallel
            parallel-max = \(concurrency)

            """
        for (index, url) in urls.enumerated() {
            config += "url = \"\(url)\"\noutput = \"\(keep ? "\(directory)/files/\(index)" : "/dev/null")\"\n"
        }
        try config.write(toFile: "\(directory)/curl.config", atomically: true, encoding: .utf8)
        let result = try await ChildProcess.run(
            "/usr/bin/curl",
            arguments: ["--config", "\(directory)/curl.config"],
            environment: ["PATH": "/usr/bin:/bin"],
            logFile: "\(directory)/curl.log",
            measured: true,
            timeout: .seconds(3600)
        )
        guard result.succeeded else {
            throw BenchError("curl ended with \(result.ending); see \(directory)/curl.log")
        }
        var bytes: Int64 = 0
        if keep {
            for index in urls.indices {
                let attributes = try FileManager.default.attributesOfItem(atPath: "\(directory)/files/\(index)")
                bytes += (attributes[.size] as? NSNumber)?.int64Value ?? 0
            }
        }
        return CurlFigures(
            urls: urls.count,
            bytes: bytes,
            wallSeconds: result.wallSeconds,
            mbPerSecond: Double(bytes) / 1e6 / result.wallSeconds,
            peakRSSBytes: result.peakRSSBytes ?? 0
        )
    }

    // MARK: Wiring

    /// The program and arguments to start: under `perf record` (cpu-clock samples with call graphs,
    /// into `profileDirectory/NAME.perf.data`) when profiling, else as they are.
    private func profiled(_ executable: String, _ arguments: [String], as name: String) -> (String, [String]) {
        guard let profileDirectory else { return (executable, arguments) }
        return ("/usr/bin/perf", ["record", "-e", "cpu-clock", "-F", "999", "-g", "-o", "\(profileDirectory)/\(name).perf.data", "--", executable] + arguments)
    }

    private func topic(_ scenario: String) -> String { "bench-\(scenario)" }

    /// A consumer's settings for `scenario`'s topic: its own group, side topics, store and database.
    func consumerEnvironment(
        _ simulator: RegistrySimulator, scenario: String, mode: String, root: String, fetchTarballs: Bool, maxSize: Int, metricsFile: String, logLevel: String? = nil
    ) -> [String: String] {
        var settings: [Setting: String] = [
            .kafkaTopic: topic(scenario),
            .kafkaConsumerGroup: "bench-\(scenario)-\(mode)",
            .kafkaDeadLetterTopic: "\(topic(scenario))-dead-\(mode)",
            .kafkaEventsTopic: "\(topic(scenario))-events-\(mode)",
            .kafkaSessionTimeout: "6s",
            .npmRegistryURL: simulator.registryURL,
            .couchDBURL: couch.url.absoluteString,
            .couchDBUser: couch.adminUser,
            .couchDBPassword: couch.adminPassword,
            .databaseName: "bench-\(scenario)-\(mode)",
            .remotePackageDir: "\(root)/packages",
            .localPackageDir: "\(root)/scratch",
            .updateSeqDir: "\(root)/update_seq",
            .maxSize: "\(max(maxSize, 10 << 20) + (16 << 20))",
            .consumerConcurrency: "\(concurrency)",
            .fetchTarballs: fetchTarballs ? "true" : "false",
            .metricsFile: metricsFile,
        ]
        if let logLevel { settings[.logLevel] = logLevel }
        return environment(settings.merging(consumerSettings) { $1 })
    }

    /// The settings every pipeline process of the run shares, plus `settings`.
    /// Runs the store verification of `npm-mirror verify` over a consumer's store (with the
    /// simulator's keys, without records), and measures SHA-512 on one core for its floor.
    private func verifyStore(_ simulator: RegistrySimulator, root: String) async throws -> VerifyFigures {
        let store = try PackageStore(root: root + "/packages", scratch: root + "/scratch", shardLength: shardLength)
        let verification = StoreVerification(store: store, keys: try TrustedKeys(keysDocument: simulator.signingKeysDocument))
        let start = ContinuousClock.now
        let report = try await verification.run()
        let wall = (ContinuousClock.now - start) / .seconds(1)
        if !report.holds {
            logger.warning("npm-mirror verify found \(report.failures.count) failures in the benchmark's store", metadata: ["first": "\(report.failures.first.map { "\($0)" } ?? "")"])
        }
        let floor = Self.sha512SingleCoreMBPerSecond()
        let cores = verification.concurrency
        let rate = wall > 0 ? Double(report.bytesHashed) / 1_000_000 / wall : 0
        return VerifyFigures(
            holds: report.holds, failures: report.failures.count, packages: report.packages, tarballs: report.tarballs,
            bytesHashed: report.bytesHashed, wallSeconds: wall, mbPerSecond: rate, sha512SingleCoreMBPerSecond: floor,
            cores: cores, shareOfFloor: floor > 0 ? rate / (floor * Double(cores)) : 0
        )
    }

    /// `npm-mirror export --format parquet --out <directory>` as a measured process with `environment`
    /// (the store and the records), its figures read from the manifest it wrote.
    static func measureExport(binaries: String, environment: [String: String], directory: String, timeout: Duration) async throws -> ExportFigures {
        try? FileManager.default.removeItem(atPath: directory)
        let run = try await ChildProcess.run(
            "\(binaries)/npm-mirror", arguments: ["export", "--format", "parquet", "--out", directory, "--json"], environment: environment,
            logFile: directory + ".log", measured: true, timeout: timeout)
        guard run.succeeded else { throw BenchError("npm-mirror export ended with \(run.ending); see \(directory).log") }
        let manifest = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: directory + "/manifest.json"))) as? [String: Any] ?? [:]
        let tables = manifest["tables"] as? [[String: Any]] ?? []
        let rows = tables.reduce(0) { $0 + (($1["rows"] as? NSNumber)?.intValue ?? 0) }
        let packages = (tables.first { $0["name"] as? String == "packages" }?["rows"] as? NSNumber)?.intValue ?? 0
        let bytes = (manifest["files"] as? [[String: Any]] ?? []).reduce(Int64(0)) { $0 + (($1["bytes"] as? NSNumber)?.int64Value ?? 0) }
        return ExportFigures(
            format: "parquet", rows: rows, packages: packages, bytes: bytes, wallSeconds: run.wallSeconds, cpuSeconds: run.cpuSeconds,
            peakRSSBytes: run.peakRSSBytes ?? 0, rowsPerSecond: run.wallSeconds > 0 ? Double(rows) / run.wallSeconds : 0)
    }

    /// SHA-512 over a 64 MiB buffer on this thread, best of three, in MB/s.
    static func sha512SingleCoreMBPerSecond() -> Double {
        let buffer = [UInt8](repeating: 0x5A, count: 64 << 20)
        var best = Double.infinity
        for _ in 0..<3 {
            let start = ContinuousClock.now
            _ = SHA512.hash(data: buffer)
            best = min(best, (ContinuousClock.now - start) / .seconds(1))
        }
        return best > 0 ? Double(buffer.count) / 1_000_000 / best : 0
    }

    private func environment(_ settings: [Setting: String]) -> [String: String] {
        let shared: [Setting: String] = [
            .configFile: configFile,
            .kafkaBrokers: kafka.bootstrapServers,
            .logLevel: childLogLevel,
        ]
        return PipelineEnvironment.make(shared.merging(settings) { $1 })
    }

    /// Packument and tarball paths; the replicate service's `/` and `/registry/_changes` are not.
    private static func isRegistryPath(_ path: String) -> Bool {
        path != "/" && !path.hasPrefix("/registry/_changes")
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
