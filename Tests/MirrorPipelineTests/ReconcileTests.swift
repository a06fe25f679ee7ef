import AsyncHTTPClient
import Foundation
import MirrorKafka
import MirrorPipeline
import MirrorReconcile
import MirrorRecords
import MirrorTestSupport
import NPMRegistry
import Prometheus
import RegistrySimulator
import Synchronization
import Testing

/// `npm-mirror reconcile` against the simulator: packages the feed never announced, a package whose
/// new revision's change was lost, a package deleted without a change, `_design/` rows and faults.
@Suite("Reconciliation with the registry's list", .timeLimit(.minutes(5)))
struct ReconcileTests {
    static func reconciliation(
        _ harness: ConsumerHarness, send: Reconciliation.Send?, pageSize: Int = 7, checkpoints: ReconcileCheckpointFile? = nil,
        metrics: PrometheusCollectorRegistry = PrometheusCollectorRegistry()
    ) throws -> Reconciliation {
        var settings = Reconciliation.Settings()
        settings.pageSize = pageSize
        settings.recordPageSize = 5
        settings.requestsPerSecond = nil
        let factory = PrometheusMetricsFactory(registry: metrics)
        return Reconciliation(
            registry: ReplicateClient(baseURL: harness.simulator.replicateURL, http: RegistryHTTP(client: .shared, timeout: .seconds(10), metrics: factory)),
            records: try harness.records, settings: settings, send: send, checkpoints: checkpoints,
            metrics: ReconcileMetrics(factory: factory), logger: testLogger
        )
    }

    @Test("what the feed lost is found and sent; after the consumer runs, the mirror holds every listed package at its revision")
    func findsSendsAndCompletes() async throws {
        try await withSimulator(packages: 40) { simulator in
            try await withConsumerHarness(simulator: simulator) { harness in
                try await harness.produceFeed()
                try await harness.consumeAll()
                // What the feed never says.
                let names = simulator.notablePackages.ordinary
                let created = try #require(try simulator.publishUnannounced(.newPackage(named: "zz-never-announced")))
                let republished = try #require(try simulator.publishUnannounced(.newVersion(of: names[0])))
                let deleted = try #require(try simulator.deleteUnannounced(names[1]))
                #expect(simulator.designDocumentIDs.count >= 1)
                // Faults on the list: a 500 and a cut-off body, each retried.
                simulator.faults.add([
                    FaultRule(kind: .httpError, targets: [.allDocs], count: 1, skip: 1, status: 500),
                    FaultRule(kind: .malformedJSON, targets: [.allDocs], count: 1, skip: 2),
                ])

                let sender = try KafkaProducer(configuration: .init(client: KafkaClientConfiguration(bootstrapServers: harness.cluster.bootstrapServers)), logger: testLogger)
                let metrics = PrometheusCollectorRegistry()
                let first = try await Self.reconciliation(harness, send: ChangeSender(producer: sender, topic: harness.producer.topic).send(reconciled:), metrics: metrics).run()
                await sender.shutdown()
                #expect(first.complete)
                #expect(simulator.faults.firedCounts.values.reduce(0, +) == 2, "the faults did not fire: \(simulator.faults.firedCounts)")
                #expect(first.samples[.missing] == [created.name])
                #expect(first.samples[.stale] == [republished.name])
                #expect(first.samples[.vanished] == [deleted.name])
                #expect(first.sent == 2)
                #expect(first.designDocuments == simulator.designDocumentIDs.count)
                #expect(first.listed == first.matched + 1)
                #expect(first.pages > 3, "page size 7 over 40 packages: the walk should take several pages")
                #expect(first.coverage < 1)
                #expect(metrics.value(of: "npm_mirror_reconcile_sent_total") == 2)

                // The reconciled changes are on the topic, marked so, with no place in the feed.
                let reconciled = try await harness.producer.messages().filter { $0.change.source == .reconcile }
                #expect(Set(reconciled.map(\.change.id)) == [created.name, republished.name])
                #expect(reconciled.allSatisfy { $0.change.seq == -1 && $0.change.feedSeq == nil })

                // The consumer takes them like any change.
                try await harness.consumeAll()
                let records = try await harness.allRecords()
                #expect(records[created.name]?["packument_rev"]?.stringValue == created.rev)
                #expect(records[republished.name]?["packument_rev"]?.stringValue == republished.rev)
                #expect(records[RecordID.reconciled(id: created.name, rev: created.rev)]?["source"]?.stringValue == "reconcile")

                let second = try await Self.reconciliation(harness, send: nil, pageSize: 50, metrics: metrics).run()
                #expect(second.complete && second.missing == 0 && second.stale == 0)
                #expect(second.coverage == 1)
                #expect(second.samples[.vanished] == [deleted.name], "a package deleted without a change stays reported, never deleted")
                #expect(metrics.value(of: "npm_mirror_reconcile_coverage_ratio") == 1)
            }
        }
    }

    @Test("an interrupted walk resumes from its checkpoint and ends with the same counts as one walk")
    func resumes() async throws {
        try await withSimulator(packages: 30) { simulator in
            try await withConsumerHarness(simulator: simulator) { harness in
                try await harness.produceFeed()
                try await harness.consumeAll()
                for index in 0..<5 { _ = try simulator.publishUnannounced(.newPackage(named: "late-\(index)")) }
                let whole = try await Self.reconciliation(harness, send: nil).run()

                let checkpoints = ReconcileCheckpointFile(directory: try temporaryDirectory())
                let pages = Mutex(0)
                let interrupted = try Self.reconciliation(harness, send: nil, checkpoints: checkpoints)
                // Cancelled after its third page: the page in flight ends the walk, the checkpoint stays.
                let task = Task {
                    try await interrupted.run { _ in if pages.withLock({ $0 += 1; return $0 }) == 3 { withUnsafeCurrentTask { $0?.cancel() } } }
                }
                let partial = try await task.value
                #expect(!partial.complete)
                let saved = try #require(try checkpoints.read())
                #expect(saved.after != nil && saved.pages >= 3)
                let resumed = try await Self.reconciliation(harness, send: nil, checkpoints: checkpoints).run()
                #expect(resumed.complete)
                #expect(resumed.pages == whole.pages)
                #expect(resumed.listed == whole.listed && resumed.missing == whole.missing && resumed.missing == 5)
                #expect(resumed.samples == whole.samples)
                // A complete walk is not resumed: the next starts over.
                let again = try await Self.reconciliation(harness, send: nil, checkpoints: checkpoints).run()
                #expect(again.pages == whole.pages && again.listed == whole.listed)
            }
        }
    }

    @Test("the rule: missing, stale, current, vanished; a deletion the mirror saw explains a package the list lacks")
    func rule() {
        func record(_ body: [String: JSONValue]) -> StoredRecord { StoredRecord(id: "p", revision: nil, body: body) }
        #expect(ReconcileRule.compare(id: "p", rev: "3-a", record: nil) == .missing(id: "p", rev: "3-a"))
        #expect(ReconcileRule.compare(id: "p", rev: "3-a", record: record(["type": "package", "packument_rev": "2-b"])) == .stale(id: "p", rev: "3-a", mirrorRev: "2-b"))
        #expect(ReconcileRule.compare(id: "p", rev: "3-a", record: record(["type": "package", "packument_rev": "3-a"])) == nil)
        #expect(ReconcileRule.compare(id: "p", rev: "3-a", record: record(["type": "package", "packument_rev": "4-c"])) == nil)
        // A record with no revision cannot be shown current.
        #expect(ReconcileRule.compare(id: "p", rev: "3-a", record: record(["type": "package", "packument_rev": .null])) == .stale(id: "p", rev: "3-a", mirrorRev: nil))
        // Republished after a deletion the mirror recorded at generation 2.
        #expect(ReconcileRule.compare(id: "p", rev: "5-a", record: record(["type": "package", "deleted": true, "packument_rev": "2-d"])) != nil)
        #expect(ReconcileRule.unlisted(record(["type": "package", "packument_rev": "2-b"])) == .vanished(id: "p", mirrorRev: "2-b"))
        #expect(ReconcileRule.unlisted(record(["type": "package", "deleted": true])) == nil)
        #expect(ReconcileRule.unlisted(record(["type": "package", "unpublished": true])) == nil)
    }

    @Test("a reconciled change round-trips through the topic's encoding; a feed change's bytes are unchanged")
    func messages() throws {
        let reconciled = ChangeMessage.reconciled(id: "@scope/name", rev: "3-abc", at: "2026-12-07T00:00:00.000Z")
        #expect(try ChangeMessage.decode(reconciled.jsonBytes) == reconciled)
        #expect(String(decoding: reconciled.jsonBytes, as: UTF8.self).hasSuffix(#","source":"reconcile"}"#))
        let feed = ChangeMessage(seq: 7, id: "a", rev: "1-x", deleted: false, readAt: "t")
        #expect(String(decoding: feed.jsonBytes, as: UTF8.self) == #"{"seq":7,"id":"a","rev":"1-x","deleted":false,"read_at":"t"}"#)
        #expect(feed.feedSeq == 7 && reconciled.feedSeq == nil)
        #expect(throws: ChangeMessage.DecodingFailure.self) { try ChangeMessage.decode(Array(#"{"seq":1,"id":"a","deleted":false,"read_at":"t","source":"elsewhere"}"#.utf8)) }
    }
}

/// `npm-mirror reconcile` as a process: the built binary against the simulator and an empty SQLite store.
@Suite("npm-mirror reconcile (process)", .timeLimit(.minutes(3)))
struct ReconcileCommandTests {
    @Test("an empty mirror: --dry-run exits 1 naming what is missing, --json parses; without brokers, sending is refused with exit 2")
    func command() async throws {
        try await withSimulator(packages: 12) { simulator in
            let directory = try temporaryDirectory()
            try Data("{}".utf8).write(to: URL(fileURLWithPath: directory + "/config.json"))
            let records = try SQLiteRecordStore(path: directory + "/dbdata/npm-mirror.sqlite")
            try await records.prepare()
            let environment = [
                "PATH": "/usr/bin:/bin", "CONFIG_FILE": directory + "/config.json", "NPM_REPLICATE_URL": simulator.replicateURL,
                "DBDATA_DIR": directory + "/dbdata", "UPDATE_SEQ_DIR": directory + "/update_seq", "RECONCILE_PAGE_SIZE": "5", "RECONCILE_RATE": "0",
            ]
            let run = { (arguments: [String]) in
                try await runProgram(builtExecutable("npm-mirror"), ["reconcile"] + arguments, in: URL(fileURLWithPath: directory), environment: environment)
            }
            let human = try await run(["--dry-run"])
            #expect(human.status == 1, "\(human.output)")
            // Every package the list holds (the generator deleted some of the 12) is missing.
            #expect(human.output.contains("registry        11 packages listed"), "\(human.output)")
            #expect(human.output.contains("missing         11"), "\(human.output)")
            #expect(human.output.contains("sent            nothing (--dry-run)"))
            let json = try await run(["--dry-run", "--json", "--restart"])
            #expect(json.status == 1)
            let report = try JSONValue(parsing: json.output)
            #expect(report["missing"]?.intValue == 11 && report["listed"]?.intValue == 11)
            #expect(report["complete"]?.boolValue == true && report["coverage"]?.numberValue == 0)
            let refused = try await runProgram(
                builtExecutable("npm-mirror"), ["reconcile"], in: URL(fileURLWithPath: directory), environment: environment, mergingStandardError: true)
            #expect(refused.status == 2)
            #expect(refused.output.contains("KAFKA_BROKERS"), "\(refused.output)")
        }
    }
}
