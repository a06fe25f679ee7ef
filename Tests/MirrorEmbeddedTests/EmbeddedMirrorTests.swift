import EmbeddedDemo
import Foundation
import Logging
import MirrorConfig
import MirrorEmbedded
import MirrorRecords
import RegistrySimulator
import Testing

private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
private let mirrorExecutable = repositoryRoot.appendingPathComponent(".build/debug/npm-mirror")

private let quietLogger: Logger = {
    var logger = Logger(label: "embedded-tests") { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = .error
    return logger
}()

private func temporaryDirectory() throws -> String {
    let path = NSTemporaryDirectory() + "npm-mirror-embedded-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

@Suite("npm-mirror run, demo and status", .serialized, .timeLimit(.minutes(4)))
struct EmbeddedMirrorTests {
    @Test("demo: the summary matches what is on disk and in the record store")
    func demoSummaryMatches() async throws {
        let directory = try temporaryDirectory() + "/demo"
        let base = try MirrorConfiguration.load(sources: ConfigurationSources(environment: [:]) { _ in nil })
        let summary = try await MirrorDemo.run(base: base, directory: directory, packages: 40, seed: 5, logger: quietLogger)

        let records = try SQLiteRecordStore(path: directory + "/dbdata/npm-mirror.sqlite")
        let stored = try await records.readAll(limit: 10_000)
        #expect(summary.records == stored.count)
        #expect(summary.packages == stored.filter { $0.body["type"] == "package" }.count)
        #expect(summary.changes == stored.filter { $0.body["type"] == "change" }.count)
        #expect(summary.changes >= 40)
        let onDisk = MirrorStatus.tarballFiles(under: directory + "/packages")
        #expect(summary.tarballs == onDisk.count && summary.tarballs > 40)
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

    @Test("run: follows a registry into the embedded broker and database; SIGTERM stops it with status 0")
    func runAndStop() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: mirrorExecutable.path), "build the executables first (scripts/test.sh does)")
        var simulatorConfiguration = RegistrySimulator.Configuration()
        simulatorConfiguration.packages = 30
        simulatorConfiguration.seed = 9
        let simulator = try await RegistrySimulator.start(configuration: simulatorConfiguration, logger: quietLogger)
        defer { Task { try? await simulator.stop() } }
        let work = try temporaryDirectory()
        let process = Process()
        process.executableURL = mirrorExecutable
        process.arguments = ["run"]
        process.currentDirectoryURL = URL(fileURLWithPath: work)
        process.environment = [
            "PATH": "/usr/bin:/bin",
            "NPM_REPLICATE_URL": simulator.replicateURL,
            "NPM_REGISTRY_URL": simulator.registryURL,
            "UPDATE_SEQ": "0",
            "POLL_INTERVAL": "100ms",
            "KAFKA_SESSION_TIMEOUT": "6s",
            "METRICS_PORT": "0",
            "LOG_LEVEL": "warning",
        ]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.interrupt() } }

        let records = try SQLiteRecordStore(path: work + "/dbdata/npm-mirror.sqlite")
        let expected = simulator.docCount
        var count = 0
        let deadline = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(500))
            if FileManager.default.fileExists(atPath: work + "/dbdata/npm-mirror.sqlite") {
                count = (try? await records.readAll(limit: 10_000).filter { $0.body["type"] == "package" }.count) ?? 0
                if count >= expected { break }
            }
        }
        #expect(count >= expected, "records for \(count) of \(expected) packages")
        process.terminate()
        let stopDeadline = ContinuousClock.now + .seconds(30)
        while process.isRunning, ContinuousClock.now < stopDeadline { try await Task.sleep(for: .milliseconds(100)) }
        #expect(!process.isRunning, "still running 30 s after SIGTERM")
        #expect(process.terminationStatus == 0)
        #expect(FileManager.default.fileExists(atPath: work + "/update_seq/update_seq.json"))
        #expect(MirrorStatus.tarballFiles(under: work + "/packages").count > 0)

        let status = await MirrorStatus.report(
            configuration: try MirrorConfiguration.load(sources: ConfigurationSources(environment: [
                "NPM_REPLICATE_URL": simulator.replicateURL, "UPDATE_SEQ_DIR": work + "/update_seq",
                "REMOTE_PACKAGE_DIR": work + "/packages", "DBDATA_DIR": work + "/dbdata",
            ]) { _ in nil }),
            logger: quietLogger
        ).joined(separator: "\n")
        #expect(status.contains("update_seq \(simulator.updateSeq)"))
        #expect(status.contains("embedded broker"))
        #expect(status.contains("\(count * 2) documents") || status.contains("documents"))
    }
}
