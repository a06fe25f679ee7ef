import EmbeddedDemo
import Foundation
import Logging
import MirrorConfig
import MirrorExport
import MirrorRecords
import MirrorStore
import MirrorTestSupport
import Testing

private let logger = Logger(label: "export-tests") { _ in SwiftLogNoOpLogHandler() }

/// A mirror filled by the pipeline from the simulator (`npm-mirror demo`'s), made once for the suite.
private actor DemoMirror {
    static let shared = DemoMirror()
    private var made: (directory: String, shardLength: Int)?

    func mirror() async throws -> (directory: String, shardLength: Int) {
        if let made { return made }
        let directory = try temporaryDirectory(prefix: "npm-mirror-export") + "/demo"
        let base = try MirrorConfiguration.load(sources: ConfigurationSources(environment: [:]) { _ in nil })
        _ = try await MirrorDemo.run(base: base, directory: directory, packages: 40, seed: 11, logger: logger)
        made = (directory, base.storage.subdirectoryHashLength)
        return made!
    }
}

/// An export read back by Python's own readers (`Readers/read_export.py`).
private func readBack(_ directory: String) async throws -> [String: [[Any?]]] {
    let script = repositoryRoot.appendingPathComponent("Tests/MirrorExportTests/Readers/read_export.py").path
    let result = try await runProgram(URL(fileURLWithPath: "/usr/bin/env"), ["python3", script, directory])
    try #require(result.status == 0, "the Python reader failed: \(result.output.prefix(2000))")
    let object = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
    let tables = try #require(object["tables"] as? [String: [[Any]]])
    return tables.mapValues { rows in rows.map { row in row.map { $0 is NSNull ? nil : $0 } } }
}

/// Rows as comparable text (`∅` for null).
private func comparable(_ rows: [[Any?]]) -> [String] {
    rows.map { row in row.map { value in value.map { "\($0)" } ?? "∅" }.joined(separator: "|") }
}

@Suite("npm-mirror export over a mirror the pipeline filled", .serialized, .timeLimit(.minutes(5)))
struct ExportTests {
    func export(_ format: ExportFormat, gzip: Bool = false, emails: ExportEmails = .hashed, rowGroupRows: Int = 100_000) async throws -> (directory: String, manifest: ExportManifest) {
        let mirror = try await DemoMirror.shared.mirror()
        let records = try SQLiteRecordStore(path: mirror.directory + "/dbdata/npm-mirror.sqlite")
        let store = try PackageStore(root: mirror.directory + "/packages", scratch: mirror.directory + "/temp_packages", shardLength: mirror.shardLength)
        var options = MirrorExport.Options(directory: try temporaryDirectory(prefix: "npm-mirror-export-out") + "/export")
        options.format = format
        options.gzip = gzip
        options.emails = emails
        options.parquetRowGroupRows = rowGroupRows
        options.pageSize = 7  // several pages, and the last one short
        options.command = ["npm-mirror", "export", "--format", format.rawValue]
        let manifest = try await MirrorExport(records: records, store: store, options: options, logger: logger).run()
        return (options.directory, manifest)
    }

    @Test("every row checked against the packument it came from; SQLite, CSV, gzip'd CSV and Parquet (pyarrow and DuckDB) read alike")
    func rowsMatchThePackuments() async throws {
        let mirror = try await DemoMirror.shared.mirror()
        let sqlite = try await export(.sqlite)
        let csv = try await export(.csv)
        let gzipped = try await export(.csv, gzip: true)
        let parquet = try await export(.parquet, rowGroupRows: 50)
        #expect(sqlite.manifest.packagesWithoutPackument == 0 && sqlite.manifest.unreadablePackuments == 0)

        let fromSQLite = try await readBack(sqlite.directory)
        let fromCSV = try await readBack(csv.directory)
        let fromGzip = try await readBack(gzipped.directory)
        let fromParquet = try await readBack(parquet.directory)
        #expect(try ExportManifest.check(directory: parquet.directory).isEmpty)
        for table in ExportTable.allCases {
            let rows = try #require(fromSQLite[table.rawValue])
            #expect(rows.count == sqlite.manifest.rows(of: table))
            // CSV reads null and empty text alike: the SQLite side is compared the same way by the reader.
            #expect(comparable(rows) == comparable(fromCSV[table.rawValue] ?? []), "\(table): SQLite and CSV differ")
            #expect(comparable(rows) == comparable(fromGzip[table.rawValue] ?? []), "\(table): CSV and gzip'd CSV differ")
            #expect(comparable(rows) == comparable(fromParquet[table.rawValue] ?? []), "\(table): SQLite and Parquet differ")
        }

        // The packuments, read by Foundation from the store: what each table must hold.
        let store = try PackageStore(root: mirror.directory + "/packages", scratch: mirror.directory + "/temp_packages", shardLength: mirror.shardLength)
        let records = try SQLiteRecordStore(path: mirror.directory + "/dbdata/npm-mirror.sqlite")
        var expectedVersions = 0
        var expectedDependencies = 0
        var expectedMaintainers = 0
        var checkedVersions = 0
        let versionRows = Dictionary(grouping: fromSQLite["versions"] ?? []) { "\($0[0]!)@\($0[1]!)" }
        let packageRows = Dictionary(uniqueKeysWithValues: (fromSQLite["packages"] ?? []).map { ("\($0[0]!)", $0) })
        var states: [String: Int] = [:]
        var sawScoped = false
        for try await page in records.packageRecordPages(pageSize: 50) {
            for record in page {
                let row = try #require(packageRows[record.id], "no packages row for \(record.id)")
                states["\(row[2]!)", default: 0] += 1
                if record.id.hasPrefix("@") { sawScoped = sawScoped || row[1] as? String == String(record.id.split(separator: "/")[0]) }
                #expect(row[14] as? String == record.body["packument_rev"]?.stringValue, "\(record.id): the row's revision is the record's")
                guard record.body["deleted"]?.boolValue != true,
                    let bytes = try store.readPackument(name: record.id, revision: record.body["packument_rev"]?.stringValue),
                    let packument = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
                else { continue }
                let versions = packument["versions"] as? [String: [String: Any]] ?? [:]
                let times = packument["time"] as? [String: Any] ?? [:]
                expectedVersions += versions.count
                expectedMaintainers += Set((packument["maintainers"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }).count
                #expect(row[5] as? String == (packument["dist-tags"] as? [String: String])?["latest"], "\(record.id): latest")
                #expect(row[11] as? Int == versions.count, "\(record.id): version_count")
                for (version, manifest) in versions {
                    for field in ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"] {
                        expectedDependencies += (manifest[field] as? [String: Any])?.count ?? 0
                    }
                    expectedDependencies += (manifest["bundleDependencies"] as? [String])?.count ?? 0
                    let exported = try #require(versionRows["\(record.id)@\(version)"]?.first, "no versions row for \(record.id)@\(version)")
                    let dist = manifest["dist"] as? [String: Any] ?? [:]
                    #expect(exported[9] as? String == dist["integrity"] as? String, "\(record.id)@\(version): integrity")
                    #expect(exported[10] as? String == dist["shasum"] as? String, "\(record.id)@\(version): shasum")
                    #expect(exported[11] as? Int == dist["fileCount"] as? Int, "\(record.id)@\(version): file_count")
                    if let time = times[version] as? String {
                        #expect(exported[6] as? String == time, "\(record.id)@\(version): published_at")
                    }
                    let held = (record.body["stored_versions"]?.objectValue ?? [:])[version] != nil
                    #expect(exported[21] as? Bool == held, "\(record.id)@\(version): tarball_held")
                    #expect(exported[16] as? String == record.body["signatures"]?[version]?.stringValue, "\(record.id)@\(version): signature verdict")
                    checkedVersions += 1
                }
            }
        }
        #expect(checkedVersions > 100)
        #expect(fromSQLite["versions"]?.count == expectedVersions)
        #expect(fromSQLite["dependencies"]?.count == expectedDependencies)
        #expect(fromSQLite["maintainers"]?.count == expectedMaintainers)
        #expect(states["normal", default: 0] > 30 && states["deleted", default: 0] + states["unpublished", default: 0] >= 1, "\(states)")
        #expect(sawScoped, "the demo's scoped packages have their scope")
        // Every change record is a row, and the manifest's seqs are theirs.
        var changeRecords = 0
        for try await page in records.changeRecordPages(pageSize: 50) { changeRecords += page.count }
        #expect(fromSQLite["changes"]?.count == changeRecords)
        let seqs = (fromSQLite["changes"] ?? []).compactMap { $0[0] as? Int }
        #expect(sqlite.manifest.changeSeqs?.first == Int64(seqs.min() ?? -1) && sqlite.manifest.changeSeqs?.last == Int64(seqs.max() ?? -1))
        #expect(sqlite.manifest.packageSeqs != nil)
    }

    @Test("docs/export.md: its schema is the code's, and its five example queries answer alike in sqlite3 (SQLite export) and DuckDB (Parquet export)")
    func documentedQueries() async throws {
        let docs = repositoryRoot.appendingPathComponent("docs/export.md").path
        let text = try String(contentsOfFile: docs, encoding: .utf8)
        #expect(text.contains(ExportTable.markdown), "docs/export.md's schema differs from ExportTable's: paste `npm-mirror export --schema-markdown`")
        let sqlite = try await export(.sqlite)
        let parquet = try await export(.parquet)
        let script = repositoryRoot.appendingPathComponent("Tests/MirrorExportTests/Readers/run_queries.py").path
        let result = try await runProgram(URL(fileURLWithPath: "/usr/bin/env"), ["python3", script, docs, sqlite.directory, parquet.directory], mergingStandardError: true)
        #expect(result.status == 0, "\(result.output.prefix(3000))")
        let answers = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        #expect(answers["queries"] as? Int == 5)
        let rows = answers["answers"] as? [[Any]] ?? []
        #expect(rows.prefix(4).allSatisfy { !$0.isEmpty }, "the first four queries answer something on the demo mirror")
    }

    @Test("--check: an intact export passes; a changed byte, a truncated file, an extra file and a missing one are each named")
    func check() async throws {
        let csv = try await export(.csv)
        #expect(try ExportManifest.check(directory: csv.directory).isEmpty)
        #expect(csv.manifest.files.count == ExportTable.allCases.count)

        // One byte changed, same size.
        let versions = csv.directory + "/versions.csv"
        var bytes = try Data(contentsOf: URL(fileURLWithPath: versions))
        bytes[bytes.count / 2] ^= 0x01
        try bytes.write(to: URL(fileURLWithPath: versions))
        // One file truncated.
        let dependencies = csv.directory + "/dependencies.csv"
        let whole = try Data(contentsOf: URL(fileURLWithPath: dependencies))
        try whole.prefix(whole.count / 2).write(to: URL(fileURLWithPath: dependencies))
        try Data("extra".utf8).write(to: URL(fileURLWithPath: csv.directory + "/notes.txt"))
        try FileManager.default.removeItem(atPath: csv.directory + "/maintainers.csv")
        let problems = try ExportManifest.check(directory: csv.directory)
        #expect(problems.contains { $0.hasPrefix("versions.csv: SHA-256") }, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("dependencies.csv:") && $0.contains("truncated") }, "\(problems)")
        #expect(problems.contains { $0.hasPrefix("notes.txt: not named") }, "\(problems)")
        #expect(problems.contains { $0 == "maintainers.csv: missing" }, "\(problems)")

        let sqlite = try await export(.sqlite)
        #expect(try ExportManifest.check(directory: sqlite.directory).isEmpty)
        let database = sqlite.directory + "/npm-mirror.sqlite"
        var data = try Data(contentsOf: URL(fileURLWithPath: database))
        data[data.count - 100] ^= 0xFF
        try data.write(to: URL(fileURLWithPath: database))
        #expect(try ExportManifest.check(directory: sqlite.directory).contains { $0.hasPrefix("npm-mirror.sqlite: SHA-256") })
        #expect(throws: ExportError.self) { try ExportManifest.check(directory: sqlite.directory + "/nowhere") }
    }

    @Test("a record read before the consumer moved its package on is read again, and the rows come from the revision the store holds")
    func rereadsAMovedRecord() async throws {
        let mirror = try await DemoMirror.shared.mirror()
        let records = try SQLiteRecordStore(path: mirror.directory + "/dbdata/npm-mirror.sqlite")
        let store = try PackageStore(root: mirror.directory + "/packages", scratch: mirror.directory + "/temp_packages", shardLength: mirror.shardLength)
        let options = MirrorExport.Options(directory: try temporaryDirectory(prefix: "npm-mirror-export-out") + "/export")
        let manifest = try await MirrorExport(records: StalePages(base: records), store: store, options: options, logger: logger).run()
        #expect(manifest.packagesWithoutPackument == 0 && manifest.unreadablePackuments == 0)
        let rows = try await readBack(options.directory)
        var current: [String: String] = [:]
        for try await page in records.packageRecordPages() {
            for record in page { current[record.id] = record.body["packument_rev"]?.stringValue }
        }
        for row in rows["packages"] ?? [] {
            #expect(row[14] as? String == current["\(row[0]!)"], "\(row[0]!): the row names the revision of the record read again")
        }
        #expect((rows["versions"] ?? []).count > 100)
    }

    @Test("an export never writes into a folder that is not empty, and leaves nothing behind when it fails")
    func refusesAndCleansUp() async throws {
        let mirror = try await DemoMirror.shared.mirror()
        let records = try SQLiteRecordStore(path: mirror.directory + "/dbdata/npm-mirror.sqlite")
        let store = try PackageStore(root: mirror.directory + "/packages", scratch: mirror.directory + "/temp_packages", shardLength: mirror.shardLength)
        let busy = try temporaryDirectory(prefix: "npm-mirror-export-busy")
        try Data("mine".utf8).write(to: URL(fileURLWithPath: busy + "/keep.txt"))
        await #expect(throws: ExportError.self) {
            _ = try await MirrorExport(records: records, store: store, options: .init(directory: busy), logger: logger).run()
        }
        #expect(try FileManager.default.contentsOfDirectory(atPath: busy) == ["keep.txt"])
    }
}

/// Package pages that name a revision the store never held (`0-stale`), as a page read just before a
/// consumer moved every package on would; reading one record by id gives the current one.
private struct StalePages: RecordStore {
    let base: SQLiteRecordStore

    func prepare() async throws { try await base.prepare() }
    func write(_ documents: [RecordDocument]) async throws -> [RecordWriteResult] { try await base.write(documents) }
    func read(id: String) async throws -> JSONValue? { try await base.read(id: id) }
    func count() async throws -> Int { try await base.count() }
    func packageRecords(matching text: String, limit: Int) async throws -> [StoredRecord] { try await base.packageRecords(matching: text, limit: limit) }

    func records(after: String?, before: String?, limit: Int) async throws -> [StoredRecord] {
        try await base.records(after: after, before: before, limit: limit).map { record in
            var record = record
            if record.isLivePackage { record.body["packument_rev"] = "0-stale" }
            return record
        }
    }
}
