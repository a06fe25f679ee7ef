import AsyncHTTPClient
import Foundation
import MirrorKafka
import MirrorPipeline
import MirrorRecords
import MirrorStore
import MirrorTestSupport
import NPMRegistry
import RegistrySimulator
import Testing

/// Issue #23 through the whole consumer: the store and the records never move to an older
/// revision, and a consumer stuck on a change gives up and says on what.
@Suite("Nothing goes backwards; a stuck consumer exits", .serialized, .timeLimit(.minutes(6)))
struct ForwardOnlyPipelineTests {
    @Test("a registry serving an older revision than the store holds, past REPLICA_LAG_WAIT: the store keeps the newer one")
    func replicaLagKeepsNewer() async throws {
        try await withSimulator(packages: 10) { simulator in
            try await withConsumerHarness(simulator: simulator) { harness in
                try await harness.produceFeed()
                try await harness.consumeAll()
                let name = try #require(simulator.notablePackages.ordinary.first)
                let served = try #require(simulator.currentRev(of: name))
                let generation = try #require(DocumentRevision.generation(served))

                // Another member stored a newer revision meanwhile (its packument with an extra version).
                let store = try harness.store
                let newer = "\(generation + 5)-f0f0f0"
                let storedBytes = try #require(try store.readPackument(name: name))
                var document = try #require(try JSONValue(parsing: storedBytes).objectValue)
                document["_rev"] = .string(newer)
                document["description"] = .string("stored by the other member")
                #expect(try store.storePackument(name: name, rev: newer, json: JSONValue.object(document).serializedBytes).outcome == .written)
                let tarballsBefore = try store.storedVersions(name: name)

                // A new version whose packument the registry keeps serving at the old revision.
                simulator.replicaLag = .seconds(120)
                let published = try #require(try simulator.publish(.newVersion(of: name)))
                try await harness.produceFeed()
                try await harness.consumeAll(["REPLICA_LAG_WAIT": "500ms"])

                #expect(try store.currentPackumentRevision(name: name) == newer, "the store moved back")
                let keptBytes = try #require(try store.readPackument(name: name))
                let kept = try #require(try JSONValue(parsing: keptBytes).objectValue)
                #expect(kept["description"]?.stringValue == "stored by the other member")
                #expect(try store.storedVersions(name: name) == tarballsBefore, "pruning followed a packument that is not current")
                #expect(harness.metric("npm_mirror_consumer_stale_writes_refused_total", labels: "target=\"store\"") == 1)
                let records = try await harness.allRecords()
                let change = try #require(records[RecordID.change(Int64(published.seq))])
                #expect(change["outcome"]?.stringValue == "superseded")
                // The package record still describes what the first run stored (no newer record was offered).
                #expect(records[name]?["packument_rev"]?.stringValue == served)
                #expect(try await harness.committedToEnd())
            }
        }
    }

    @Test("the package record refuses an older packument revision (CouchDB double through the consumer's record store)")
    func recordRefusesOlder() async throws {
        try await withSimulator(packages: 5) { simulator in
            try await withConsumerHarness(simulator: simulator) { harness in
                let records = try harness.records
                try await records.prepare()
                let policy = UpdatePolicy.forwardOnly(revisionField: "packument_rev")
                let newer = RecordDocument(id: "left-pad", body: ["packument_rev": "7-b", "v": 7], policy: policy)
                let older = RecordDocument(id: "left-pad", body: ["packument_rev": "6-a", "v": 6], policy: policy)
                #expect(try await records.write([newer]).first?.isWritten == true)
                // A second store instance (another member) without the first one's revision cache.
                let other = try harness.records
                #expect(try await other.write([older]) == [.keptNewer(current: "7-b")])
                #expect(try await records.write([older]) == [.keptNewer(current: "7-b")])
                #expect(try await records.read(id: "left-pad")?["v"]?.intValue == 7)
                let same = RecordDocument(id: "left-pad", body: ["packument_rev": "7-b", "v": 77], policy: policy)
                #expect(try await other.write([same]).first?.isWritten == true, "the same generation is not older: written")
                #expect(try await records.read(id: "left-pad")?["v"]?.intValue == 77)
            }
        }
    }

    @Test("a consumer whose processing blocks gives up within CONSUMER_STALL_TIMEOUT, naming the change it waits on")
    func stallWatchdog() async throws {
        try await withSimulator(packages: 6) { simulator in
            try await withConsumerHarness(simulator: simulator) { harness in
                try await harness.produceFeed()
                // Every packument answer takes 25 s (HTTP_TIMEOUT is 20 min): nothing completes within the
                // 3 s stall timeout. (Not longer: the simulator's shutdown waits for the delayed answers.)
                simulator.faults.add(FaultRule(kind: .slowResponse, targets: [.packument], delayMilliseconds: 25_000))
                let application = try harness.application(["CONSUMER_STALL_TIMEOUT": "3s", "HTTP_TIMEOUT": "20m"], exitWhenIdle: nil)
                let started = ContinuousClock.now
                var thrown: (any Error)?
                do {
                    try await application.runConsumer()
                } catch {
                    thrown = error
                }
                let took = ContinuousClock.now - started
                let error = try #require(thrown, "the consumer ended without an error")
                let stalled = try #require(error as? ChangesConsumerService.ConsumerStalled, "\(error)")
                #expect(stalled.description.contains("CONSUMER_STALL_TIMEOUT"))
                #expect(stalled.description.contains("seq "), "the message names the change waited on: \(stalled.description)")
                // Not a timing assertion: only that it ended before any delayed answer came (and so before
                // any change could complete), i.e. by the watchdog.
                #expect(took < .seconds(25))
                #expect(try await harness.allRecords().isEmpty, "nothing completed")
                #expect((harness.metric("npm_mirror_consumer_seconds_since_completed") ?? 0) >= 2)
            }
        }
    }
}

extension RecordWriteResult {
    fileprivate var isWritten: Bool {
        if case .written = self { return true }
        return false
    }
}
