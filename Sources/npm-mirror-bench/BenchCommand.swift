import ArgumentParser
import CouchDBDouble
import Foundation
import Logging
import MirrorConfig
import MirrorHarness
import MirrorKafka

@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "npm-mirror-bench",
        abstract: "Measures the pipeline's throughput and memory beside curl's raw-download limit.",
        discussion: """
            Runs the real changes-producer and changes-consumer binaries (from --binaries, by default the folder \
            this program is in) against a generated registry, an embedded Kafka cluster and a CouchDB double, \
            then prints one table and writes the same figures as JSON. scripts/bench.sh builds in release mode \
            and runs it; docs/performance.md explains the method and the figures.
            """
    )

    @Option(help: "Variants to run, comma-separated: \(Workload.all.map(\.name).joined(separator: ", ")), serve (npm-mirror serve beside nginx, needs wrk and nginx), scale (verify's record pass, status and search over --scale-packages records in SQLite) and backfill (npm's size: the producer over a feed of --backfill-changes, a metadata-only consumer on that backlog).")
    var variants: String = "small,large,huge"

    @Option(help: "Packages of the serve stage's store.")
    var servePackages: Int = 300

    @Option(help: "Size of the serve stage's huge packument, in MB.")
    var serveHugePackumentMb: Int = 20

    @Option(help: "Connections of each wrk run of the serve stage.")
    var serveConnections: Int = 64

    @Option(help: "Seconds of each wrk run of the serve stage.")
    var serveSeconds: Int = 10

    @Option(help: "Package records of the scale stage, one size or several, comma-separated (change records beside them: --scale-changes-per-package).")
    var scalePackages: String = "400000,4000000"

    @Flag(help: "Scale stage: measure the databases an earlier run of the same sizes left in the work directory instead of filling new ones (the fill is not a target).")
    var scaleReuse = false

    @Option(help: "Change records per package record in the scale stage (a real mirror holds about 1.5).")
    var scaleChangesPerPackage: Double = 1.5

    @Option(help: "Changes of the backfill stage's feed (one per package, as from since=0).")
    var backfillChanges: Int = 4_300_000

    @Option(help: "Seconds the backfill stage's consumer works on the backlog before it is stopped.")
    var backfillConsumerSeconds: Int = 90

    @Option(help: "Where to write the figures as JSON.")
    var json: String = "bench-results.json"

    @Option(help: "Packages processed at once by the consumer, and curl's --parallel-max.")
    var concurrency: Int = 8

    @Option(help: "Delay every answer of the CouchDB double by this many milliseconds, as a database across a network (and its fsync) would; 0 answers at once.")
    var databaseLatencyMs: Int = 0

    @Option(help: ArgumentHelp("A setting for every consumer run, as NAME=VALUE (repeatable), e.g. STORE_SYNC=file to compare with the default.", valueName: "name=value"))
    var consumerSetting: [String] = []

    @Option(help: "Seed of the generated registry.")
    var seed: UInt64 = 1

    @Option(help: "LOG_LEVEL of the producer and consumer processes (their logs are in the scratch folder).")
    var childLogLevel: String = "warning"

    @Option(help: "Profile the producer and consumer runs with `perf record` (cpu-clock, call graphs) into this folder; peak RSS is then perf's, not the program's.")
    var profile: String?

    @OptionGroup var harness: HarnessOptions

    func run() async throws {
        let logger = HarnessRun.bootstrapLogging(label: "bench", others: .error)
        let names = variants.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
        let runServe = names.contains("serve")
        let runBackfill = names.contains("backfill")
        let runScale = names.contains("scale")
        let scaleSizes = try scalePackages.split(separator: ",").map { text in
            guard let size = Int(text.trimmingCharacters(in: .whitespaces)), size >= 2 else { throw ValidationError("--scale-packages takes sizes of 2 or more, got '\(text)'") }
            return size
        }
        let workloads = try names.filter { $0 != "serve" && $0 != "backfill" && $0 != "scale" }.map { name in
            guard let workload = Workload.all.first(where: { $0.name == name.trimmingCharacters(in: .whitespaces) }) else {
                throw ValidationError("unknown variant '\(name)'; known: \(Workload.all.map(\.name).joined(separator: ", "))")
            }
            return workload
        }
        guard databaseLatencyMs >= 0 else { throw ValidationError("--database-latency-ms must be 0 or more, got \(databaseLatencyMs)") }
        let binaries = try HarnessRun.pipelineBinaries(harness.binaries, buildScript: "scripts/bench.sh")
        for (tool, why) in [("/usr/bin/curl", "the raw-download limit is measured with it"), (ChildProcess.timeExecutable, "peak memory is read through it")]
        where !FileManager.default.isExecutableFile(atPath: tool) {
            throw ValidationError("\(tool) is missing: \(why) (scripts/install-deps.sh installs it)")
        }

        // --scale-reuse keeps the work directory: the scale stage's databases of an earlier run are in it.
        let work: String
        if scaleReuse {
            work = URL(fileURLWithPath: harness.workDirectory ?? "./bench-work").standardizedFileURL.path
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        } else {
            work = try HarnessRun.freshDirectory(harness.workDirectory ?? "./bench-work")
        }
        let configFile = try HarnessRun.emptyConfigFile(in: work)

        let kafka = try EmbeddedKafkaCluster(brokerCount: 1, logger: Logger(label: "bench.kafka"))
        let consumerSettings = try consumerSetting.map { pair -> (Setting, String) in
            let parts = pair.split(separator: "=", maxSplits: 1).map(String.init)
            guard parts.count == 2, let setting = Setting(rawValue: parts[0]) else {
                throw ValidationError("--consumer-setting takes NAME=VALUE with a known setting name, got '\(pair)'")
            }
            return (setting, parts[1])
        }
        // The database every variant records into: stopped when the stages end, also on failure.
        let (results, serve, backfill, scale) = try await withCouchDBDouble { couch in
            if databaseLatencyMs > 0 { couch.setDelay(.milliseconds(databaseLatencyMs)) }
            let bench = Bench(binaries: binaries, workDirectory: work, configFile: configFile, kafka: kafka, couch: couch, concurrency: concurrency, seed: seed, childLogLevel: childLogLevel,
                consumerSettings: Dictionary(consumerSettings) { $1 },
                profileDirectory: try profile.map { path in
                    let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
                    try FileManager.default.createDirectory(atPath: absolute, withIntermediateDirectories: true)
                    return absolute
                },
                logger: logger)
            var results: [VariantResults] = []
            var serve: ServeFigures?
            var backfill: BackfillFigures?
            var scale: ScaleFigures?
            for workload in workloads {
                results.append(try await bench.run(workload))
            }
            if runBackfill {
                backfill = try await BackfillStage(bench: bench, changes: backfillChanges, consumerSeconds: backfillConsumerSeconds).run()
            }
            if runScale {
                scale = try await ScaleStage(
                    binaries: binaries, workDirectory: work, sizes: scaleSizes, changesPerPackage: scaleChangesPerPackage, reuse: scaleReuse, logger: logger
                ).run()
            }
            if runServe {
                serve = try await ServeStage(
                    binaries: binaries, workDirectory: work, seed: seed, packages: servePackages,
                    hugePackumentBytes: serveHugePackumentMb << 20, connections: serveConnections, seconds: serveSeconds, logger: logger
                ).run()
            }
            return (results, serve, backfill, scale)
        }

        let report = BenchResults(
            machine: MachineInfo.current,
            seed: seed,
            concurrency: concurrency,
            databaseLatencyMilliseconds: databaseLatencyMs,
            variants: results,
            serve: serve,
            backfill: backfill,
            scale: scale,
            targets: TargetCheck.judge(results) + TargetCheck.judge(serve) + TargetCheck.judge(scale)
        )
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        try encoder.encode(report).write(to: URL(fileURLWithPath: json))
        print(report.table)
        if let serve { print(serve.table) }
        if let scale { print(scale.table) }
        if let backfill { print(backfill.table(beside: results.first { $0.workload.name == "large" }?.producer)) }
        print("Figures written to \(json)")
        if !harness.keepWork { try? FileManager.default.removeItem(atPath: work) }
    }
}

extension MachineInfo {
    static var current: MachineInfo {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let model = cpuinfo.split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":", maxSplits: 1).last?.trimmingCharacters(in: .whitespaces)
        var name = utsname()
        uname(&name)
        let release = withUnsafeBytes(of: &name.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        #if DEBUG
        let build = "debug"
        #else
        let build = "release"
        #endif
        return MachineInfo(
            cpu: model ?? "unknown",
            cores: ProcessInfo.processInfo.activeProcessorCount,
            memoryBytes: ProcessInfo.processInfo.physicalMemory,
            kernel: release,
            build: build
        )
    }
}

extension TargetCheck {
    /// The scale stage's targets (issue #24), judged on a release build at the largest size: search
    /// p99 ≤ 50 ms, each step's peak RSS ≤ 300 MB and not growing with the record count (the largest
    /// size within 1.5 × + 20 MB of the smallest).
    static func judge(_ scale: ScaleFigures?) -> [TargetCheck] {
        guard let scale, let largest = scale.sizes.max(by: { $0.packages < $1.packages }), let smallest = scale.sizes.min(by: { $0.packages < $1.packages }) else { return [] }
        let judged = MachineInfo.current.build == "release"
        let p99 = max(largest.searchLast.p99Milliseconds, largest.searchCommon.p99Milliseconds)
        var checks = [
            TargetCheck(target: "scale: search p99 ≤ 50 ms at \(largest.packages) packages", measured: String(format: "%.1f ms", p99), met: judged ? p99 <= 50 : nil),
        ]
        var steps: [(String, Int64, Int64)] = [
            ("verify's record pass", largest.verify.peakRSSBytes, smallest.verify.peakRSSBytes),
            ("status", largest.status.peakRSSBytes, smallest.status.peakRSSBytes),
        ]
        if let big = largest.export, let small = smallest.export { steps.append(("export", big.peakRSSBytes, small.peakRSSBytes)) }
        for (name, big, small) in steps {
            checks.append(TargetCheck(target: "scale: \(name) peak RSS ≤ 300 MB", measured: String(format: "%.0f MB", Double(big) / 1e6), met: judged ? big <= 300_000_000 : nil))
            if largest.packages > smallest.packages {
                checks.append(TargetCheck(
                    target: "scale: \(name) RSS flat from \(smallest.packages) to \(largest.packages) packages",
                    measured: String(format: "%.0f → %.0f MB", Double(small) / 1e6, Double(big) / 1e6),
                    met: judged ? Double(big) <= Double(small) * 1.5 + 20e6 : nil))
            }
        }
        return checks
    }

    /// The serve stage's targets (issue #16), judged on a release build.
    static func judge(_ serve: ServeFigures?) -> [TargetCheck] {
        guard let serve else { return [] }
        let judged = MachineInfo.current.build == "release"
        return [
            TargetCheck(target: "serve packuments ≥ 0.8 × nginx req/s", measured: String(format: "%.2f × nginx", serve.packumentRatio), met: judged ? serve.packumentRatio >= 0.8 : nil),
            TargetCheck(target: "serve tarballs ≥ 0.8 × nginx MB/s", measured: String(format: "%.2f × nginx", serve.tarballRatio), met: judged ? serve.tarballRatio >= 0.8 : nil),
            TargetCheck(
                target: "serve RSS flat with the huge packument (≤ mix + 16 MB)",
                measured: String(format: "%+.1f MB", Double(serve.rssAfterHugeBytes - serve.rssAfterMixBytes) / 1e6),
                met: judged ? serve.rssAfterHugeBytes - serve.rssAfterMixBytes <= 16_000_000 : nil
            ),
        ] + (serve.rssAfterHugePageBytes.map { afterPage in
            // The page's own cost: what serving its page under load added to the memory the huge
            // packument's documents had already taken (those are judged by the check above).
            [TargetCheck(
                target: "the huge package's web page adds ≤ 16 MB of RSS",
                measured: String(format: "%+.1f MB", Double(afterPage - serve.rssAfterHugeBytes) / 1e6),
                met: judged ? afterPage - serve.rssAfterHugeBytes <= 16_000_000 : nil
            )]
        } ?? [])
    }

    /// The targets, judged on the largest variant of a release build; a debug build or a
    /// smoke-only run reports the figures without judging them.
    static func judge(_ variants: [VariantResults]) -> [TargetCheck] {
        guard let variant = variants.filter({ $0.workload.name != Workload.huge.name }).max(by: { $0.workload.packages < $1.workload.packages }) else { return hugePackumentCheck(variants) }
        let judged = MachineInfo.current.build == "release" && variant.workload.name != "smoke"
        func check(_ target: String, _ measured: String, _ met: Bool) -> TargetCheck {
            TargetCheck(target: target, measured: measured, met: judged ? met : nil)
        }
        let peak = max(variant.producer.peakRSSBytes, variant.consumer.peakRSSBytes, variant.metadataOnly.peakRSSBytes)
        var checks = [
            check("producer ≥ 100000 changes/s", String(format: "%.0f changes/s", variant.producer.changesPerSecond), variant.producer.changesPerSecond >= 100_000),
            check("peak RSS ≤ 200 MB", String(format: "%.1f MB", Double(peak) / 1e6), peak <= 200_000_000),
        ]
        if let cost = variant.cost {
            checks.append(check(
                "metadata only ≤ 1.0 ms of consumer CPU per package",
                String(format: "%.2f ms (%.1f × its floor of %.3f ms)", cost.metadataCPUMillisecondsPerPackage, cost.metadataMultiple, cost.metadataFloorMillisecondsPerPackage),
                cost.metadataCPUMillisecondsPerPackage <= 1.0
            ))
            checks.append(check(
                "tarball path ≤ 2 × its floor per MB",
                String(format: "%.1f × (%.2f ms/MB against %.2f ms/MB)", cost.tarballMultiple, cost.tarballCPUMillisecondsPerMB, cost.tarballFloorMillisecondsPerMB),
                cost.tarballMultiple <= 2.0
            ))
        }
        if let pair = variant.memoryPair {
            checks.append(check(
                "RSS with the huge tarball ≤ without + 8 MB",
                String(format: "%+.1f MB", Double(pair.differenceBytes) / 1e6),
                pair.differenceBytes <= 8_000_000
            ))
        }
        return checks + hugePackumentCheck(variants)
    }

    /// The `huge` variant's target: the consumer's peak RSS with a packument the size of npm's largest.
    private static func hugePackumentCheck(_ variants: [VariantResults]) -> [TargetCheck] {
        guard let huge = variants.first(where: { $0.workload.name == Workload.huge.name }) else { return [] }
        let peak = max(huge.consumer.peakRSSBytes, huge.metadataOnly.peakRSSBytes)
        return [TargetCheck(
            target: "peak RSS with the \(huge.workload.hugePackumentBytes / 1_000_000) MB packument ≤ 300 MB",
            measured: String(format: "%.1f MB", Double(peak) / 1e6),
            met: MachineInfo.current.build == "release" ? peak <= 300_000_000 : nil
        )]
    }
}
