import Foundation
import Logging
import MirrorConfig
import MirrorHarness
import RegistrySimulator

#if canImport(Glibc)
import Glibc
#endif

/// A full backfill's shape at npm's size: the feed replayed from `since=0`, one change per package
/// (about 4.3 M). The producer follows the whole feed into the topic; then a metadata-only consumer
/// works through that backlog for a while and is stopped. What it shows: the producer's memory does
/// not grow with the feed, the consumer's does not grow with the backlog, and the consumer says how
/// far behind it is (its lag gauge, its `Progress` lines) while it works.
struct BackfillStage: Sendable {
    let bench: Bench
    let changes: Int
    let consumerSeconds: Int

    func run() async throws -> BackfillFigures {
        let directory = "\(bench.workDirectory)/backfill"
        bench.logger.notice("backfill: generating a registry of \(changes) packages")
        let setupStart = ContinuousClock.now
        return try await bench.withSimulator(packages: changes) { simulator in
            let setup = (ContinuousClock.now - setupStart) / .seconds(1)
            bench.logger.notice("backfill: producer over the whole feed (\(changes) changes)")
            let producer = try await bench.produce(simulator, scenario: "backfill", directory: "\(directory)/feed")
            bench.logger.notice("backfill: a metadata-only consumer on the backlog for \(consumerSeconds) s")
            let consumer = try await consume(simulator, directory: "\(directory)/consumer")
            return BackfillFigures(
                changes: changes, simulatorSetupSeconds: setup, producer: producer,
                consumerSeconds: Double(consumerSeconds), consumerChanges: consumer.changes, consumerPeakRSSBytes: consumer.peakRSS,
                consumerCPUSeconds: consumer.cpu, lagAtStop: consumer.lag, progressLines: consumer.progressLines,
                lastProgressLine: consumer.lastProgress
            )
        }
    }

    private func consume(_ simulator: RegistrySimulator, directory: String) async throws -> (changes: Int, peakRSS: Int64, cpu: Double, lag: Int64?, progressLines: Int, lastProgress: String?) {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let metricsFile = "\(directory)/consumer.prom"
        let logFile = "\(directory)/consumer.log"
        let child = try await ChildProcess.start(
            "\(bench.binaries)/changes-consumer",
            environment: bench.consumerEnvironment(simulator, scenario: "backfill", mode: "meta", root: directory, fetchTarballs: false, maxSize: 0, metricsFile: metricsFile, logLevel: "notice"),
            logFile: logFile,
            measured: true
        )
        try await Task.sleep(for: .seconds(consumerSeconds))
        child.send(SIGTERM)
        let result = try await child.wait(timeout: .seconds(120))
        guard result.succeeded else {
            throw BenchError("the backfill consumer ended with \(result.ending) after SIGTERM; see \(logFile)")
        }
        let metrics = try MetricsText(contentsOf: metricsFile)
        let log = (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? ""
        let progress = log.split(separator: "\n").filter { $0.contains("Progress") }
        let lag = metrics.samples.first { $0.name == "npm_mirror_consumer_lag" }.map { Int64($0.value) }
        return (Int(metrics.sum("npm_mirror_consumer_changes_total")), result.peakRSSBytes ?? 0, result.cpuSeconds, lag, progress.count, progress.last.map(String.init))
    }
}

/// What the backfill stage measured.
struct BackfillFigures: Codable, Sendable {
    var changes: Int
    /// Generating the registry (in the bench process, before anything is timed).
    var simulatorSetupSeconds: Double
    var producer: ProducerFigures
    var consumerSeconds: Double
    /// Changes the consumer finished before it was stopped.
    var consumerChanges: Int
    var consumerPeakRSSBytes: Int64
    var consumerCPUSeconds: Double
    /// `npm_mirror_consumer_lag` in the consumer's final metrics.
    var lagAtStop: Int64?
    /// `Progress` lines in the consumer's log.
    var progressLines: Int
    var lastProgressLine: String?
}

extension BackfillFigures {
    /// The stage's lines; `large` is the large variant's feed-only producer run, when it ran, for the
    /// producer's memory at 300,000 changes beside its memory here.
    func table(beside large: ProducerFigures?) -> String {
        var lines = ["", "Backfill (\(changes) changes, one per package; registry generated in \(String(format: "%.0f", simulatorSetupSeconds)) s):"]
        lines.append(String(format: "  producer: %.1f s, %.0f changes/s, peak RSS %.1f MB, %.2f CPU s", producer.wallSeconds, producer.changesPerSecond, Double(producer.peakRSSBytes) / 1e6, producer.cpuSeconds)
            + (large.map { String(format: " (%.1f MB at %d changes)", Double($0.peakRSSBytes) / 1e6, $0.changes) } ?? ""))
        lines.append(String(format: "  consumer (metadata only, stopped after %.0f s): %d changes, peak RSS %.1f MB, %.2f CPU s, ",
            consumerSeconds, consumerChanges, Double(consumerPeakRSSBytes) / 1e6, consumerCPUSeconds)
            + "lag at stop \(lagAtStop.map { "\($0)" } ?? "not reported"), \(progressLines) Progress lines")
        if let lastProgressLine { lines.append("  last: \(lastProgressLine.suffix(400))") }
        return lines.joined(separator: "\n")
    }
}
