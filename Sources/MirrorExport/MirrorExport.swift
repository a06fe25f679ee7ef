import Foundation
import Logging
import MirrorRecords
import MirrorRuntime
import MirrorStore
import Synchronization
import MirrorSignatures

/// `npm-mirror export`: the mirror's records and stored packuments as tables (``ExportTable``) in
/// one of the ``ExportFormat``s, with a ``ExportManifest`` that pins them and lets anyone check them.
///
/// It reads only the store and the records, page by page (memory holds one page of records and one
/// packument, whatever the mirror's size), while consumers may keep writing: each package's rows come
/// from the one packument revision its record names (re-read once when the consumer moved on
/// meanwhile), and the manifest says which seqs the package rows are as of. First the change records
/// are written (and the lowest seq of each package noted in a scratch index beside the output), then
/// the packages.
public struct MirrorExport: Sendable {
    public struct Options: Sendable {
        public var format: ExportFormat = .sqlite
        public var directory: String
        public var emails: Emails = .hashed
        /// CSV only: `<table>.csv.gz`.
        public var gzip = false
        /// Records read per page.
        public var pageSize = 500
        /// Parquet: rows per row group (a row group is what memory holds of a table).
        public var parquetRowGroupRows = 100_000
        /// The command line, for the manifest.
        public var command: [String] = []
        /// The key ids the signature verdicts were made with, for the manifest.
        public var trustedKeyIDs: [String] = []

        public init(directory: String) {
            self.directory = directory
        }
    }

    public typealias Emails = ExportEmails

    public let records: any RecordStore
    public let store: PackageStore
    public let options: Options
    let logger: Logger

    public init(records: any RecordStore, store: PackageStore, options: Options, logger: Logger) {
        self.records = records
        self.store = store
        self.options = options
        self.logger = logger
    }

    /// Exports, then writes `manifest.json`; returns the manifest. `progress` is updated as it goes.
    ///
    /// - Throws: ``ExportError`` when the output folder is not empty or cannot be written, or the
    ///   records cannot be read; the partial output is removed.
    public func run(progress: ExportProgress = ExportProgress()) async throws -> ExportManifest {
        let directory = options.directory
        try Self.prepare(directory)
        do {
            return try await export(into: directory, progress: progress)
        } catch {
            for name in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] {
                try? FileManager.default.removeItem(atPath: directory + "/" + name)
            }
            throw error
        }
    }

    private func export(into directory: String, progress: ExportProgress) async throws -> ExportManifest {
        let started = Date()
        let sink = try options.format.makeSink(directory: directory, gzip: options.gzip, rowGroupRows: options.parquetRowGroupRows)
        let firstSeen = try FirstSeenIndex(path: directory + "/.first-seen.sqlite")
        defer { firstSeen.remove() }
        var counts: [ExportTable: Int] = [:]
        var changeSeqs = SeqRange()
        var packageSeqs = SeqRange()
        var withoutPackument = 0
        var unreadablePackuments = 0

        // The change records: the `changes` table, and each package's lowest seq.
        for try await page in records.changeRecordPages(pageSize: options.pageSize) {
            var rows: [ExportRow] = []
            var seen: [(String, Int64)] = []
            for record in page where record.body["type"]?.stringValue == "change" {
                let row = Self.changeRow(record.body)
                rows.append(row)
                if case .integer(let seq) = row[0], case .text(let name) = row[1] {
                    seen.append((name, seq))
                    changeSeqs.add(seq)
                }
            }
            try sink.append(rows, to: .changes)
            try firstSeen.note(seen)
            counts[.changes, default: 0] += rows.count
            progress.update { $0.changes += rows.count; $0.rows += rows.count }
        }

        // The packages, each from the packument revision its record names.
        for try await page in records.packageRecordPages(pageSize: options.pageSize) {
            var batch = PackageRows()
            for record in page {
                let (body, packument, problem) = try await packumentOfRecord(record)
                switch problem {
                case .missing: withoutPackument += 1
                case .unreadable: unreadablePackuments += 1
                case nil: break
                }
                let sources = await provenanceSources(body)
                let rows = PackageRows(
                    name: record.id, record: body, packument: packument, firstSeenSeq: try firstSeen.seq(of: record.id), emails: options.emails,
                    provenance: { sources[$0] })
                if let seq = body["last_seq"]?.intValue { packageSeqs.add(Int64(seq)) }
                batch.packages += rows.packages
                batch.versions += rows.versions
                batch.dependencies += rows.dependencies
                batch.maintainers += rows.maintainers
            }
            try sink.append(batch.packages, to: .packages)
            try sink.append(batch.versions, to: .versions)
            try sink.append(batch.dependencies, to: .dependencies)
            try sink.append(batch.maintainers, to: .maintainers)
            counts[.packages, default: 0] += batch.packages.count
            counts[.versions, default: 0] += batch.versions.count
            counts[.dependencies, default: 0] += batch.dependencies.count
            counts[.maintainers, default: 0] += batch.maintainers.count
            progress.update { $0.packages += batch.packages.count; $0.rows += batch.count }
        }

        let files = try sink.finish()
        firstSeen.remove()
        var manifest = ExportManifest(
            schemaVersion: ExportTable.schemaVersion,
            format: options.format,
            gzip: options.gzip,
            createdAt: Timestamp.format(micros: Int64(started.timeIntervalSince1970 * 1_000_000) / 1000 * 1000),
            finishedAt: Timestamp.format(micros: Int64(Date().timeIntervalSince1970 * 1_000_000) / 1000 * 1000),
            command: options.command,
            packageSeqs: packageSeqs.range,
            changeSeqs: changeSeqs.range,
            tables: ExportTable.allCases.map { .init(name: $0, rows: counts[$0, default: 0], columns: $0.columns.map { .init(name: $0.name, type: $0.kind) }) },
            files: [],
            trustedKeyIDs: options.trustedKeyIDs,
            emails: options.emails,
            packagesWithoutPackument: withoutPackument,
            unreadablePackuments: unreadablePackuments
        )
        for name in files {
            manifest.files.append(try ExportManifest.File.describe(name: name, in: directory))
        }
        try manifest.write(to: directory)
        return manifest
    }

    enum PackumentProblem { case missing, unreadable }

    /// The record and the stored packument of the revision it names. When that revision is no longer
    /// stored (the consumer moved the package on meanwhile), the record is read again once and the
    /// newer revision used. A deleted package's record is exported without its packument.
    private func packumentOfRecord(_ record: StoredRecord) async throws -> ([String: JSONValue], [String: JSONValue]?, PackumentProblem?) {
        var body = record.body
        for attempt in 0..<2 {
            if body["deleted"]?.boolValue == true { return (body, nil, nil) }
            let rev = body["packument_rev"]?.stringValue
            let store = self.store
            let name = record.id
            let bytes = try? await BlockingWork.run { try store.readPackument(name: name, revision: rev) }
            if let bytes {
                guard let object = (try? JSONValue(parsing: bytes))?.objectValue else { return (body, nil, .unreadable) }
                return (body, object, nil)
            }
            // Read the record again only when the store holds another revision now: with none at
            // all, a second read would find the same record (4 million of them in the scale stage).
            let current = try? await BlockingWork.run { try store.currentPackumentRevision(name: name) }
            guard attempt == 0, let current, current != rev, let again = try await records.read(id: record.id)?.objectValue else { break }
            body = again
        }
        return (body, nil, .missing)
    }

    /// Repository, commit and workflow from the stored attestations of each version that has them,
    /// read off the cooperative threads.
    private func provenanceSources(_ record: [String: JSONValue]) async -> [String: PackageRows.ProvenanceSource] {
        var paths: [String: String] = [:]
        for (version, entry) in record["provenance"]?.objectValue ?? [:] {
            guard let path = entry["path"]?.stringValue, !path.isEmpty, !path.hasPrefix("/"), !path.split(separator: "/").contains("..") else { continue }
            paths[version] = store.root + "/" + path
        }
        guard !paths.isEmpty else { return [:] }
        let found = try? await BlockingWork.run { [paths] in
            paths.compactMapValues { path -> PackageRows.ProvenanceSource? in
                guard let data = FileManager.default.contents(atPath: path), data.count <= 16 << 20 else { return nil }
                return ProvenanceStatement.source(attestations: Array(data))
            }
        }
        return found ?? [:]
    }

    static func changeRow(_ body: [String: JSONValue]) -> ExportRow {
        [
            body["seq"]?.intValue.map { .integer(Int64($0)) } ?? .null,
            .text(body["id"]?.stringValue ?? ""),
            PackageRows.text(body["rev"]),
            .boolean(body["deleted"]?.boolValue == true),
            PackageRows.time(body["read_at"]),
            PackageRows.text(body["outcome"]),
            .text(body["source"]?.stringValue ?? "feed"),
        ]
    }

    /// Makes the folder, or checks that it is empty: an export never writes over another.
    static func prepare(_ directory: String) throws {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw ExportError.output("\(directory) exists and is not a folder") }
            let entries = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
            guard entries.isEmpty else { throw ExportError.output("\(directory) is not empty: an export goes to a new or empty folder") }
            return
        }
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ExportError.output("cannot make \(directory): \(error)")
        }
    }
}

/// The lowest and highest seq seen.
struct SeqRange {
    var lowest: Int64?
    var highest: Int64?

    mutating func add(_ seq: Int64) {
        lowest = min(lowest ?? seq, seq)
        highest = max(highest ?? seq, seq)
    }

    var range: ExportManifest.SeqRange? {
        guard let lowest, let highest else { return nil }
        return .init(first: lowest, last: highest)
    }
}

/// How far an export has got, readable while it runs (for the progress line).
public final class ExportProgress: Sendable {
    public struct Snapshot: Sendable {
        public var changes = 0
        public var packages = 0
        public var rows = 0
    }

    private let state = Mutex(Snapshot())

    public init() {}

    public var snapshot: Snapshot { state.withLock { $0 } }

    func update(_ change: (inout Snapshot) -> Void) {
        state.withLock { change(&$0) }
    }
}

/// Why an export (or its check) could not be made.
public enum ExportError: Error, CustomStringConvertible, Equatable {
    case output(String)
    case manifest(String)

    public var description: String {
        switch self {
        case .output(let message): message
        case .manifest(let message): "manifest: \(message)"
        }
    }
}
