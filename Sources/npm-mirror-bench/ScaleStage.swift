import Foundation
import Logging
import MirrorHarness
import MirrorRecords
import MirrorRuntime

/// `--variants scale`: the paths that read "everything", at npm's size. An embedded SQLite record
/// store is filled with package records (and change records beside them, as a real mirror holds:
/// `--scale-changes-per-package` each) at each size of `--scale-packages`; then, each as its own
/// process where it is one (wall time and peak RSS through GNU time):
/// - `npm-mirror verify`'s record pass (over an empty package store: every record checked, page by page),
/// - `npm-mirror status` (counts the records, walks the empty store),
/// - `npm-mirror export --format parquet` (every record streamed into tables),
/// - search: the store's `packageRecords(matching:)` for the name that sorts last and for a common
///   word, timed in the bench process (the query `npm-mirror serve` makes per search), p50 and p99.
/// Two sizes show whether a step's memory grows with the record count.
struct ScaleStage: Sendable {
    let binaries: String
    let workDirectory: String
    let sizes: [Int]
    let changesPerPackage: Double
    /// Measure a database an earlier run of the same size left, instead of filling a new one.
    var reuse = false
    let logger: Logger

    /// The name that sorts after every generated one.
    static let lastName = "zzzz-scale-sorts-last"
    static let words = ["http", "parser", "react", "client", "utils", "cli", "stream", "json", "server", "plugin", "test", "color", "async", "logger", "config", "router"]

    func run() async throws -> ScaleFigures {
        var figures = ScaleFigures(changesPerPackage: changesPerPackage, sizes: [])
        for packages in sizes {
            figures.sizes.append(try await measure(packages: packages))
        }
        return figures
    }

    private func measure(packages: Int) async throws -> ScaleSize {
        let directory = "\(workDirectory)/scale-\(packages)"
        let changes = Int(Double(packages) * changesPerPackage)
        // With --scale-reuse, a database a run of the same size filled is measured again (the fill
        // takes most of the stage's time at 4 million packages and is not a target).
        var fillSeconds = 0.0
        if reuse, let existing = try? SQLiteRecordStore(path: "\(directory)/dbdata/npm-mirror.sqlite"), (try? await existing.count()) == packages + changes {
            logger.notice("scale: reusing the \(packages + changes) records of \(directory)")
            try? FileManager.default.removeItem(atPath: "\(directory)/export")
        } else {
            try? FileManager.default.removeItem(atPath: directory)
            for folder in ["dbdata", "packages", "scratch", "update_seq"] {
                try FileManager.default.createDirectory(atPath: "\(directory)/\(folder)", withIntermediateDirectories: true)
            }
            logger.notice("scale: \(packages) package records and \(changes) change records into SQLite")
            let started = ContinuousClock.now
            let fresh = try SQLiteRecordStore(path: "\(directory)/dbdata/npm-mirror.sqlite")
            try await fresh.prepare()
            try await fill(fresh, packages: packages, changes: changes)
            fillSeconds = (ContinuousClock.now - started) / .seconds(1)
        }
        let records = try SQLiteRecordStore(path: "\(directory)/dbdata/npm-mirror.sqlite")
        let databaseBytes = (try? FileManager.default.attributesOfItem(atPath: "\(directory)/dbdata/npm-mirror.sqlite")[.size] as? NSNumber)?.int64Value ?? 0

        let environment = [
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
            "CONFIG_FILE": try HarnessRun.emptyConfigFile(in: directory),
            "REMOTE_PACKAGE_DIR": "\(directory)/packages", "LOCAL_PACKAGE_DIR": "\(directory)/scratch",
            "UPDATE_SEQ_DIR": "\(directory)/update_seq", "DBDATA_DIR": "\(directory)/dbdata",
            // Nothing to reach: status's registry and Kafka questions fail at once.
            "NPM_REPLICATE_URL": "http://127.0.0.1:9", "NPM_REGISTRY_URL": "http://127.0.0.1:9", "HTTP_TIMEOUT": "2s",
        ]
        logger.notice("scale: npm-mirror verify (the record pass)")
        let verify = try await ChildProcess.run(
            "\(binaries)/npm-mirror", arguments: ["verify", "--json"], environment: environment,
            logFile: "\(directory)/verify.json", measured: true, timeout: .seconds(3600))
        guard verify.succeeded else { throw BenchError("npm-mirror verify ended with \(verify.ending); see \(directory)/verify.json") }
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(directory)/verify.json"))) as? [String: Any]
        let checked = ((report?["records"] as? [String: Any])?["package_records"] as? NSNumber)?.intValue ?? -1

        logger.notice("scale: npm-mirror status")
        let status = try await ChildProcess.run(
            "\(binaries)/npm-mirror", arguments: ["status"], environment: environment,
            logFile: "\(directory)/status.txt", measured: true, timeout: .seconds(600))
        let statusText = (try? String(contentsOfFile: "\(directory)/status.txt", encoding: .utf8)) ?? ""
        guard statusText.contains("\(packages + changes) documents") else {
            throw BenchError("npm-mirror status did not count \(packages + changes) records; see \(directory)/status.txt")
        }

        logger.notice("scale: npm-mirror export (parquet)")
        let export = try await Bench.measureExport(binaries: binaries, environment: environment, directory: "\(directory)/export", timeout: .seconds(7200))

        logger.notice("scale: searches")
        let last = try await timeSearches(records, text: Self.lastName, expecting: Self.lastName)
        let common = try await timeSearches(records, text: "parser", expecting: nil)
        return ScaleSize(
            packages: packages, changes: changes, fillSeconds: fillSeconds, databaseBytes: databaseBytes,
            verify: ScaleStep(wallSeconds: verify.wallSeconds, cpuSeconds: verify.cpuSeconds, peakRSSBytes: verify.peakRSSBytes ?? 0),
            verifyRecordsChecked: checked,
            status: ScaleStep(wallSeconds: status.wallSeconds, cpuSeconds: status.cpuSeconds, peakRSSBytes: status.peakRSSBytes ?? 0),
            export: export,
            searchLast: last, searchCommon: common
        )
    }

    /// Writes the records as the consumer would, through the store's own writes (so the search
    /// index is kept by its triggers), 2,000 to a transaction.
    private func fill(_ records: SQLiteRecordStore, packages: Int, changes: Int) async throws {
        var batch: [RecordDocument] = []
        batch.reserveCapacity(2_000)
        func flush() async throws {
            let results = try await records.write(batch)
            guard results.allSatisfy(\.isSuccess) else { throw BenchError("a generated record was refused: \(results.first { !$0.isSuccess }.map { "\($0)" } ?? "")") }
            batch.removeAll(keepingCapacity: true)
        }
        var random = SplitMixRandom(seed: 7)
        for index in 0..<packages {
            let name = index == packages - 1 ? Self.lastName : Self.name(index)
            let description = (0..<4).map { _ in Self.words[Int(random.next() % UInt64(Self.words.count))] }.joined(separator: " ")
            batch.append(
                RecordDocument(
                    id: name,
                    body: [
                        "type": "package", "name": .string(name), "description": .string(description), "packument_rev": .string("\(1 + index % 9)-abc"),
                        "deleted": .bool(index % 50 == 0), "stored_versions": [:],
                    ],
                    policy: .forwardOnly(revisionField: "packument_rev")))
            if batch.count == 2_000 { try await flush() }
        }
        for seq in 0..<changes {
            batch.append(
                RecordDocument(
                    id: RecordID.change(Int64(seq)),
                    body: ["type": "change", "seq": .number(Double(seq)), "id": .string(Self.name(seq % max(1, packages))), "outcome": "stored"],
                    policy: .createOnly))
            if batch.count == 2_000 { try await flush() }
        }
        if !batch.isEmpty { try await flush() }
    }

    /// A package name like npm's: a word, a dash and a base-36 number, some of them scoped.
    static func name(_ index: Int) -> String {
        let word = words[index % words.count]
        let name = "\(word)-\(String(index, radix: 36))"
        return index % 5 == 0 ? "@scope\(index % 97)/\(name)" : name
    }

    /// 200 searches (after 5 unmeasured): p50 and p99 in milliseconds, and the candidates found.
    private func timeSearches(_ records: SQLiteRecordStore, text: String, expecting: String?) async throws -> ScaleSearch {
        var times: [Double] = []
        var found = 0
        for round in 0..<205 {
            let started = ContinuousClock.now
            let results = try await records.packageRecords(matching: text, limit: 250)
            let milliseconds = (ContinuousClock.now - started) / .milliseconds(1)
            if round >= 5 { times.append(milliseconds) }
            found = results.count
            if let expecting, results.first?.id != expecting {
                throw BenchError("the search for \(text) did not find \(expecting) first: \(results.prefix(3).map(\.id))")
            }
        }
        times.sort()
        return ScaleSearch(text: text, results: found, p50Milliseconds: times[times.count / 2], p99Milliseconds: times[times.count * 99 / 100])
    }
}

/// What the scale stage measured.
struct ScaleFigures: Codable, Sendable {
    var changesPerPackage: Double
    var sizes: [ScaleSize]
}

struct ScaleSize: Codable, Sendable {
    var packages: Int
    var changes: Int
    /// Writing the records through the store (in the bench process, not a target).
    var fillSeconds: Double
    var databaseBytes: Int64
    var verify: ScaleStep
    /// Package records verify reported checking (live ones).
    var verifyRecordsChecked: Int
    var status: ScaleStep
    /// `npm-mirror export --format parquet` over the records (the store is empty: a packages row per
    /// package record, and every change record).
    var export: ExportFigures?
    var searchLast: ScaleSearch
    var searchCommon: ScaleSearch
}

struct ScaleStep: Codable, Sendable {
    var wallSeconds: Double
    var cpuSeconds: Double
    var peakRSSBytes: Int64
}

struct ScaleSearch: Codable, Sendable {
    var text: String
    var results: Int
    var p50Milliseconds: Double
    var p99Milliseconds: Double
}

extension ScaleFigures {
    /// The stage's figures as a table.
    var table: String {
        var lines = ["Scale (\(changesPerPackage) change records per package record, embedded SQLite)"]
        lines.append("packages   records    db MB  fill s | verify s  cpu s  RSS MB  checked | status s  RSS MB | export s  rows/s  RSS MB | search last p50/p99 ms | common p50/p99 ms (results)")
        for size in sizes {
            lines.append(String(
                format: "%-10d %-10d %6.0f %7.1f | %8.1f %6.1f %7.0f %8d | %8.1f %7.0f | %8.1f %7.0f %6.0f | %9.2f / %-9.2f | %7.2f / %-7.2f (%d)",
                size.packages, size.packages + size.changes, Double(size.databaseBytes) / 1e6, size.fillSeconds,
                size.verify.wallSeconds, size.verify.cpuSeconds, Double(size.verify.peakRSSBytes) / 1e6, size.verifyRecordsChecked,
                size.status.wallSeconds, Double(size.status.peakRSSBytes) / 1e6,
                size.export?.wallSeconds ?? 0, size.export?.rowsPerSecond ?? 0, Double(size.export?.peakRSSBytes ?? 0) / 1e6,
                size.searchLast.p50Milliseconds, size.searchLast.p99Milliseconds, size.searchCommon.p50Milliseconds, size.searchCommon.p99Milliseconds,
                size.searchCommon.results))
        }
        return lines.joined(separator: "\n")
    }
}
