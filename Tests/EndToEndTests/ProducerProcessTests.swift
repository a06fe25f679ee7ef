import Foundation
import MirrorHarness
import MirrorKafka
import MirrorPipeline
import MirrorTestSupport
import RegistrySimulator
import Testing
import MirrorStore

/// The built `changes-producer` executable (scripts/test.sh builds it with the tests).
let producerExecutable = builtExecutable("changes-producer")

@Suite("changes-producer as a process", .serialized, .timeLimit(.minutes(3)))
struct ProducerProcessTests {
    /// Starts the executable against the harness's simulator and embedded broker.
    private func launch(_ harness: ProducerHarness, _ extra: [String: String] = [:], arguments: [String] = []) async throws -> ChildProcess {
        var environment = [
            "KAFKA_BROKERS": harness.cluster.bootstrapServers,
            "KAFKA_TOPIC": harness.topic,
            "NPM_REPLICATE_URL": harness.simulator.replicateURL,
            "NPM_REGISTRY_URL": harness.simulator.registryURL,
            "UPDATE_SEQ_DIR": harness.updateSeqDirectory,
            "UPDATE_SEQ": "0",
            "CHANGES_LIMIT": "5",
            "POLL_INTERVAL": "50ms",
            "POLL_INTERVAL_MAX": "200ms",
            "METRICS_PORT": "0",
            "LOG_LEVEL": "warning",
            "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin",
        ]
        environment.merge(extra) { _, new in new }
        return try await ChildProcess.start(
            producerExecutable.path, arguments: arguments, environment: environment,
            logFile: harness.updateSeqDirectory + "/producer.log", directory: harness.updateSeqDirectory)
    }

    /// Waits for the program to end by itself: its result, or nil (then it is killed) after `limit`.
    private func waitForExit(_ process: ChildProcess, within limit: Duration) async throws -> ChildResult? {
        let ended = try await process.wait(timeout: limit)
        return ended.signal == SIGKILL ? nil : ended
    }

    /// The producer's log so far.
    private func log(_ harness: ProducerHarness) -> String {
        (try? String(contentsOfFile: harness.updateSeqDirectory + "/producer.log", encoding: .utf8)) ?? ""
    }

    @Test("SIGTERM mid-run: the page in flight is finished and checkpointed, exit status 0")
    func gracefulStop() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: producerExecutable.path), "build the executables first (scripts/test.sh does)")
        try await withSimulator(packages: 120) { simulator in
            let harness = try ProducerHarness(simulator: simulator)
            // 300 ms a page of 5: the 120 changes take several seconds.
            simulator.faults.add(FaultRule(kind: .slowResponse, targets: [.changes], delayMilliseconds: 300))
            let process = try await launch(harness)
            // Mid-run: a page past the start is acknowledged (the start itself is checkpointed as seq 0).
            let acknowledged = await eventually(within: .seconds(60)) {
                ((try? CheckpointDirectory(path: harness.updateSeqDirectory).readProducer())??.updateSeq ?? 0) > 0
            }
            try #require(acknowledged, "no page was acknowledged within 60 s; log: \(log(harness))")
            #expect(!process.hasEnded)
            process.send(SIGTERM)
            let ended = try await waitForExit(process, within: .seconds(15))
            #expect(ended != nil, "did not stop within 15 s of SIGTERM")
            #expect(ended?.exitCode == 0, "log: \(log(harness))")

            let produced = try await harness.messages()
            let feed = try await harness.feed()
            #expect(!produced.isEmpty)
            // The signal landed mid-run: the producer stopped before the end of the feed.
            #expect(Set(produced.map(\.change.seq)).count < feed.count, "the run had finished before SIGTERM")
            let checkpoint = try #require(try CheckpointDirectory(path: harness.updateSeqDirectory).readProducer())
            // Every message on the topic is covered by the checkpoint: the last page was acknowledged and recorded.
            #expect(checkpoint.updateSeq == produced.map(\.change.seq).max())
        }
    }

    @Test("SIGTERM while the broker is unreachable at start-up: exit status 0 within 20 s")
    func stopDuringStartUpOutage() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: producerExecutable.path))
        try await withSimulator(packages: 10) { simulator in
            let harness = try ProducerHarness(simulator: simulator)
            try harness.cluster.setBrokerDown(1)
            let process = try await launch(harness)
            // The producer is in its start-up retries: it has failed to reach the broker at least once.
            let retrying = await eventually(within: .seconds(90)) { log(harness).contains("Could not make sure the topic exists") }
            try #require(retrying, "no failed attempt to reach the broker within 90 s; log: \(log(harness))")
            #expect(!process.hasEnded)
            process.send(SIGTERM)
            let ended = try await waitForExit(process, within: .seconds(20))
            try #require(ended != nil, "did not stop within 20 s of SIGTERM; log: \(log(harness))")
            #expect(ended?.exitCode == 0, "log: \(log(harness))")
        }
    }

    @Test("--exit-when-caught-up stops with status 0 once the head is produced")
    func exitWhenCaughtUp() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: producerExecutable.path))
        try await withSimulator(packages: 30) { simulator in
            let harness = try ProducerHarness(simulator: simulator)
            let process = try await launch(harness, ["CHANGES_LIMIT": "1000"], arguments: ["--exit-when-caught-up"])
            let ended = try await waitForExit(process, within: .seconds(60))
            #expect(ended?.exitCode == 0)
            #expect(try await harness.messages().count == (try await harness.feed()).count)
        }
    }

    @Test("a bad configuration stops start-up with status 1 and a message naming the setting")
    func badConfiguration() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: producerExecutable.path))
        let result = try await ChildProcess.output(
            producerExecutable.path, [], environment: ["KAFKA_TOPIC_NUM_PARTITIONS": "many", "PATH": "/usr/bin"], mergingStandardError: true)
        #expect(result.status != 0)
        #expect(result.text.contains("KAFKA_TOPIC_NUM_PARTITIONS"))
    }
}
