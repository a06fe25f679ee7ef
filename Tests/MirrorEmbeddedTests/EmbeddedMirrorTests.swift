import EmbeddedDemo
import Foundation
import Logging
import MirrorConfig
import MirrorEmbedded
import MirrorRecords
import MirrorStore
import MirrorTestSupport
import RegistrySimulator
import Testing

private let quietLogger = testLogger

@Suite("npm-mirror demo", .serialized, .timeLimit(.minutes(4)))
struct EmbeddedMirrorTests {
    @Test("demo: the summary matches what is on disk and in the record store")
    func demoSummaryMatches() async throws {
        let directory = try temporaryDirectory(prefix: "npm-mirror-embedded") + "/demo"
        let base = try MirrorConfiguration.load(sources: ConfigurationSources(environment: [:]) { _ in nil })
        let summary = try await MirrorDemo.run(base: base, directory: directory, packages: 40, seed: 5, logger: quietLogger)

        let records = try SQLiteRecordStore(path: directory + "/dbdata/npm-mirror.sqlite")
        let stored = try await records.readAll(limit: 10_000)
        #expect(summary.records == stored.count)
        #expect(summary.packages == stored.filter { $0.body["type"] == "package" }.count)
        #expect(summary.changes == stored.filter { $0.body["type"] == "change" }.count)
        #expect(summary.changes >= 40)
        let onDisk = StoreCensus.count(under: directory + "/packages")
        #expect(summary.tarballs == onDisk.tarballs && summary.tarballs > 40)
        #expect(summary.tarballBytes == onDisk.bytes)
        // Every tarball a package record lists is on disk.
        for record in stored where record.body["type"] == "package" {
            for (_, version) in record.body["stored_versions"]?.objectValue ?? [:] {
                let path = try #require(version["path"]?.stringValue)
                #expect(FileManager.default.fileExists(atPath: directory + "/packages/" + path), "\(path)")
            }
        }
        #expect(summary.description.contains("tarballs stored"))
    }
}
