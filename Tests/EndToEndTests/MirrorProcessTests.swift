import Foundation
import Logging
import MirrorConfig
import MirrorEmbedded
import MirrorHarness
import MirrorRecords
import MirrorStore
import MirrorTestSupport
import RegistrySimulator
import Testing

private let mirrorExecutable = builtExecutable("npm-mirror")

private let quietLogger = testLogger

@Suite("npm-mirror run and status as a process", .serialized, .timeLimit(.minutes(4)))
struct MirrorProcessTests {
    @Test("run: follows a registry into the embedded broker and database; SIGTERM stops it with status 0")
    func runAndStop() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: mirrorExecutable.path), "build the executables first (scripts/test.sh does)")
        var simulatorConfiguration = RegistrySimulator.Configuration()
        simulatorConfiguration.packages = 30
        simulatorConfiguration.seed = 9
        try await withRegistrySimulator(configuration: simulatorConfiguration, logger: quietLogger) { simulator in
            let work = try temporaryDirectory(prefix: "npm-mirror-embedded")
            let process = try await ChildProcess.start(
                mirrorExecutable.path,
                arguments: ["run"],
                environment: [
                    "PATH": "/usr/bin:/bin",
                    "NPM_REPLICATE_URL": simulator.replicateURL,
                    "NPM_REGISTRY_URL": simulator.registryURL,
                    "UPDATE_SEQ": "0",
                    "POLL_INTERVAL": "100ms",
                    "KAFKA_SESSION_TIMEOUT": "6s",
                    "METRICS_PORT": "0",
                    "LOG_LEVEL": "warning",
                ],
                logFile: work + "/npm-mirror.log",
                directory: work
            )
            defer { process.send(SIGKILL) }

            let records = try SQLiteRecordStore(path: work + "/dbdata/npm-mirror.sqlite")
            let expected = simulator.docCount
            var count = 0
            // A guard against a stuck run, not a speed target: on two loaded cores 29 packages have
            // taken over 90 s in a debug build.
            let deadline = ContinuousClock.now + .seconds(180)
            while ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(500))
                if FileManager.default.fileExists(atPath: work + "/dbdata/npm-mirror.sqlite") {
                    count = (try? await records.readAll(limit: 10_000).filter { $0.body["type"] == "package" }.count) ?? 0
                    if count >= expected { break }
                }
            }
            #expect(count >= expected, "records for \(count) of \(expected) packages")
            process.send(SIGTERM)
            let ended = try await process.wait(timeout: .seconds(30))
            #expect(ended.signal == nil, "still running 30 s after SIGTERM (killed)")
            #expect(ended.exitCode == 0)
            #expect(FileManager.default.fileExists(atPath: work + "/update_seq/update_seq.json"))
            #expect(StoreCensus.count(under: work + "/packages").tarballs > 0)

            let status = await MirrorStatus.report(
                configuration: try MirrorConfiguration.load(sources: ConfigurationSources(environment: [
                    "NPM_REPLICATE_URL": simulator.replicateURL, "UPDATE_SEQ_DIR": work + "/update_seq",
                    "REMOTE_PACKAGE_DIR": work + "/packages", "DBDATA_DIR": work + "/dbdata",
                ]) { _ in nil }),
                logger: quietLogger
            ).joined(separator: "\n")
            #expect(status.contains("update_seq \(simulator.updateSeq)"))
            #expect(status.contains("embedded broker"))
            #expect(status.contains(" tarballs, ") && !status.contains("at least"), "a small store is counted whole: \(status)")
            #expect(status.contains("free of") && status.contains("on the store's file system"), "\(status)")
            #expect(status.contains("\(count * 2) documents") || status.contains("documents"))
        }
    }
}
