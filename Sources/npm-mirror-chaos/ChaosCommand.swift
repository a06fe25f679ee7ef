import ArgumentParser
import CouchDBDouble
import Foundation
import Logging
import MirrorHarness
import MirrorKafka

@main
struct ChaosCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "npm-mirror-chaos",
        abstract: "The reliability suite: kills, faults and hostile input against the real pipeline, then an audit.",
        discussion: """
            Runs the real changes-producer and changes-consumer (from --binaries, by default this program's folder) \
            against a registry simulator, an embedded Kafka cluster and a CouchDB double; kills them, breaks their \
            parts, feeds them hostile input; then checks that every change was recorded exactly once, no file is \
            partial or outside the store, offsets are committed to the end and no password leaked. Prints a summary \
            and exits non-zero if any promise was broken. docs/reliability.md explains each scenario.
            """
    )

    @Option(help: "Scenarios to run, comma-separated (default: all): \(Suite.names.joined(separator: ", ")).")
    var scenarios: String?

    @Option(help: "SIGKILLs of the consumer in consumer-kills (a third of them for the producer).")
    var kills: Int = 24

    @Option(help: "Packages of the generated registry (scenarios use multiples of it).")
    var packages: Int = 300

    @Option(help: "Seed of the registry and of the kill times.")
    var seed: UInt64 = 7

    @OptionGroup var harness: HarnessOptions

    func run() async throws {
        let logger = HarnessRun.bootstrapLogging(label: "chaos", others: .critical)
        let selected = scenarios.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } } ?? Suite.names
        if let unknown = selected.first(where: { !Suite.names.contains($0) }) {
            throw ValidationError("unknown scenario '\(unknown)'; known: \(Suite.names.joined(separator: ", "))")
        }
        let binaries = try HarnessRun.pipelineBinaries(harness.binaries, buildScript: "scripts/reliability.sh")
        let work = try HarnessRun.freshDirectory(harness.workDirectory ?? "./chaos-work")

        let kafka = try EmbeddedKafkaCluster(brokerCount: 1, logger: Logger(label: "chaos.kafka"))
        let tally = Tally()
        try await withCouchDBDouble { couch in
            let suite = Suite(binaries: binaries, workDirectory: work, kafka: kafka, couch: couch, tally: tally, kills: kills, packages: packages, seed: seed, logger: logger)
            for scenario in selected {
                await suite.run(scenario)
            }
        }
        print(tally.summary)
        if !harness.keepWork { try? FileManager.default.removeItem(atPath: work) }
        if tally.failed { throw ExitCode(1) }
    }
}
