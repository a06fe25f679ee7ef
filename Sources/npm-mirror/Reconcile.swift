import ArgumentParser
import Foundation
import MirrorConfig
import MirrorJSON
import MirrorPipeline
import MirrorReconcile
import MirrorRuntime
import Prometheus

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `npm-mirror reconcile`: the registry's list of every package against the mirror's records.
struct Reconcile: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Prove the mirror complete: walk the registry's list of every package (_all_docs) against the records.",
        discussion: """
            Reads NPM_REPLICATE_URL's _all_docs in pages of RECONCILE_PAGE_SIZE (at most RECONCILE_RATE requests a \
            second) beside the package records (COUCHDB_URL, or DBDATA_DIR's SQLite file), both in id order. A package \
            the registry lists is missing (no record), stale (the record holds an older revision) or current; a live \
            record the registry does not list is vanished (reported only). Missing and stale packages are sent into \
            KAFKA_TOPIC as changes marked "source":"reconcile", keyed by name, for the consumers to fetch; --dry-run \
            only reports. An interrupted walk (SIGTERM, SIGINT, a failure) resumes from UPDATE_SEQ_DIR/reconcile.json \
            at the next run. Exit status: 0 when the mirror holds every package the registry lists at its revision and \
            nothing vanished, 1 when something differs (sent, unless --dry-run), 2 when it could not reconcile or was \
            interrupted.
            """
    )

    @OptionGroup var options: ConfigurationOptions

    @Flag(help: "Report only: send nothing.")
    var dryRun = false

    @Flag(help: "Start from the beginning of the list, not from the checkpoint of an unfinished walk.")
    var restart = false

    @Flag(help: "Write the report as JSON to standard output.")
    var json = false

    func run() async throws {
        do {
            let configuration = try options.load()
            let logger = MirrorLogging.bootstrap(label: "npm-mirror", level: json ? "error" : "warning")
            let application = try ReconcileApplication(configuration: configuration, dryRun: dryRun, metricsRegistry: PrometheusCollectorRegistry(), logger: logger)
            let terminal = isatty(STDERR_FILENO) == 1
            let report = try await application.run(restart: restart, logger: logger) { report in
                guard terminal else { return }
                let line = "\r\(report.listed) listed, \(report.missing) missing, \(report.stale) stale, \(report.vanished) vanished, after \(report.after ?? "")"
                FileHandle.standardError.write(Data((line.count > 120 ? String(line.prefix(119)) + "…" : line + "\u{1B}[K").utf8))
            }
            if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
            if json { print(report.json.serialized) } else { report.summaryLines().forEach { print($0) } }
            guard report.complete else { throw ExitCode(2) }
            if report.missing + report.stale + report.vanished > 0 { throw ExitCode(1) }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            FileHandle.standardError.write(Data("npm-mirror reconcile: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}
