import AsyncHTTPClient
import CouchDBDouble
import Crypto
import Foundation
import MirrorKafka
import MirrorPipeline
import MirrorRecords
import MirrorStore
import MirrorTestSupport
import NPMRegistry
import RegistrySimulator
import Testing

/// sha512 SRI of a file's bytes.
private func integrity(ofFile path: String) throws -> String {
    "sha512-" + Data(SHA512.hash(data: try Data(contentsOf: URL(fileURLWithPath: path)))).base64EncodedString()
}

@Suite("changes-consumer against the simulator, the embedded broker and the CouchDB double", .serialized, .timeLimit(.minutes(6)))
struct ChangesConsumerTests {
    @Test("every change processed: files in the right shard, digests equal integrity, one record each, offsets committed to the end")
    func mirrorsEverything() async throws {
        try await withSimulator(packages: 40) { simulator in
            try await withConsumerHarness(simulator: simulator) { harness in
                try await harness.produceFeed()
                try await harness.consumeAll()

                let feed = try await harness.producer.feed()
                let records = try await harness.allRecords()
                let store = try harness.store
                // One change record per change, one package record per package.
                for change in feed {
                    #expect(records[RecordID.change(change.seq)] != nil, "no change record for seq \(change.seq)")
                    let package = try #require(
                        records[change.id],
                        "no package record for \(change.id); its change record: \(String(describing: records[RecordID.change(change.seq)]))"
                    )
                    #expect(package["last_seq"]?.intValue == Int(change.seq))
                }
                #expect(records.count == feed.count * 2)

                var checkedTarballs = 0
                for change in feed where !change.deleted {
                    guard let packument = try await servedPackument(simulator, change.id), !packument.isUnpublished else { continue }
                    let directory = store.absolutePackageDirectory(for: change.id)
                    #expect(directory.hasPrefix(harness.storeRoot + "/"))
                    // The shard is the first 2 hex digits of SHA-256(name).
                    let shard = SHA256.hash(data: Data(change.id.utf8)).map { String(format: "%02x", $0) }.joined().prefix(2)
                    #expect(store.packageDirectory(for: change.id).hasPrefix(shard + "/"))
                    #expect(try store.readPackument(name: change.id) != nil, "no packument stored for \(change.id)")
                    let keep = VersionRetention.versionsToKeep(versions: packument.versions.keys, time: packument.time, latest: packument.latest, limit: 3)
                    #expect(Set(try store.storedVersions(name: change.id)) == keep, "stored versions of \(change.id)")
                    for version in keep {
                        let path = harness.storeRoot + "/" + (try store.tarballPath(name: change.id, version: version))
                        #expect(try integrity(ofFile: path) == packument.versions[version]?.integrity)
                        checkedTarballs += 1
                    }
                }
                #expect(checkedTarballs > 20)
                #expect(try await harness.committedToEnd())
                #expect(try harness.partialFiles().isEmpty)
                // The consumer's checkpoint names the feed's highest seq.
                let checkpoint = try JSONSerialization.jsonObject(with: Data(contentsOf: CheckpointDirectory(path: harness.producer.updateSeqDirectory).file("consumer.json"))) as? [String: Any]
                #expect((checkpoint?["seq"] as? NSNumber)?.int64Value == feed.map(\.seq).max())
                #expect(harness.metric("npm_mirror_consumer_changes_total", labels: #"result="stored""#) ?? 0 > 20)
                // Events: a recorded event per change.
                let events = try await harness.sideTopic("npm-mirror-events")
                #expect(events.filter { $0["stage"] as? String == "recorded" }.count == feed.count)
            }
        }
    }

    @Test("scoped and awkward names, deletions and unpublished packages are recorded as such")
    func awkwardNamesAndDeletions() async throws {
        try await withSimulator(packages: 40) { simulator in
            try await withConsumerHarness(simulator: simulator) { harness in
                try await harness.produceFeed()
                try await harness.consumeAll()
                let notable = simulator.notablePackages
                let records = try await harness.allRecords()
                let store = try harness.store
                for name in notable.scoped + notable.dotted + notable.underscored {
                    #expect(records[name]?["outcome"]?.stringValue == "stored", "\(name)")
                    #expect(!(try store.storedVersions(name: name)).isEmpty, "\(name) has no tarball")
                    #expect(store.packageName(forDirectory: store.packageDirectory(for: name)) == name)
                }
                #expect(!notable.deleted.isEmpty && !notable.unpublished.isEmpty)
                for name in notable.deleted {
                    #expect(records[name]?["deleted"]?.boolValue == true, "\(name)")
                }
                for name in notable.unpublished {
                    #expect(records[name]?["unpublished"]?.boolValue == true, "\(name)")
                }
            }
        }
    }

    @Test("a package created then deleted before the consumer reaches it: the creation is superseded, not waited for")
    func createdThenDeleted() async throws {
        try await withSimulator(packages: 10) { simulator in
            try await withConsumerHarness(simulator: simulator) { harness in
                let name = "created-then-deleted"
                _ = try simulator.publish(.newPackage(named: name))
                try await harness.produceFeed()
                _ = try simulator.publish(.deletion(of: name))
                try await harness.produceFeed()
                // A wait of 60 s for the created package would use up most of consumeAll's 90 s and end in
                // a dead letter (packument_not_found); superseded, the creation needs no registry read at all.
                try await harness.consumeAll(["REPLICA_LAG_WAIT": "60s"])
                let records = try await harness.allRecords()
                let changes = records.values.filter { $0["type"]?.stringValue == "change" && $0["id"]?.stringValue == name }
                    .sorted { ($0["seq"]?.numberValue ?? 0) < ($1["seq"]?.numberValue ?? 0) }
                #expect(changes.map { $0["outcome"]?.stringValue } == ["superseded", "deleted"])
                #expect(records[name]?["deleted"]?.boolValue == true)
                #expect((harness.metric("npm_mirror_consumer_changes_total", labels: "result=\"superseded\"") ?? 0) >= 1)
                #expect(try await harness.sideTopic("npm-changes-skipped").isEmpty, "nothing dead-lettered")
            }
        }
    }

    @Test("MAX_SIZE skips a large tarball with a reason; the versions limit prunes and records what it removed")
    func sizeLimitAndPruning() async throws {
        try await withSimulator(packages: 20, { $0.hugeTarballBytes = 3_000_000 }) { simulator in
            try await withConsumerHarness(simulator: simulator) { harness in
                try await harness.produceFeed()
                try await harness.consumeAll(["MAX_SIZE": "1MB", "OLD_PACKAGE_VERSIONS_LIMIT": "1"])
                let huge = try #require(simulator.notablePackages.hugeTarball)
                var records = try await harness.allRecords()
                let skipped = records[huge]?["skipped_versions"]?.objectValue ?? [:]
                #expect(skipped.values.contains { $0.stringValue == "too_large" }, "\(skipped)")
                #expect(try harness.store.storedVersions(name: huge).isEmpty)

                // A new version of an ordinary package: with a limit of 1 the old tarball goes.
                let name = try #require(simulator.notablePackages.ordinary.first)
                let before = try harness.store.storedVersions(name: name)
                #expect(before.count == 1)
                _ = try simulator.publish(.newVersion(of: name))
                try await harness.produceFeed()
                try await harness.consumeAll(["MAX_SIZE": "1MB", "OLD_PACKAGE_VERSIONS_LIMIT": "1"])
                let after = try harness.store.storedVersions(name: name)
                #expect(after.count == 1 && after != before)
                records = try await harness.allRecords()
                #expect(records[name]?["removed_versions"]?.arrayValue?.compactMap(\.stringValue) == before)
            }
        }
    }

    @Test("a corrupt tarball is fetched twice, then dead-lettered; its bytes never reach the store")
    func corruptTarball() async throws {
        try await withSimulator(packages: 20) { simulator in
            try await withConsumerHarness(simulator: simulator) { harness in
                let victim = try #require(simulator.notablePackages.ordinary.first)
                let packument = try #require(try await servedPackument(simulator, victim))
                let latest = try #require(packument.latest)
                let basename = victim.split(separator: "/").last.map(String.init)!
                simulator.faults.add(FaultRule(kind: .corruptTarball, targets: [.tarball], pathPrefix: "/\(victim)/-/\(basename)-\(latest).tgz"))
                try await harness.produceFeed()
                try await harness.consumeAll()

                #expect(!(try harness.store.hasTarball(name: victim, version: latest)))
                let letters = try await harness.sideTopic("npm-changes-skipped")
                let letter = try #require(letters.first { $0["id"] as? String == victim })
                #expect(letter["reason"] as? String == "integrity_mismatch")
                #expect(letter["original"] is String)
                #expect(simulator.requestCounts.count(path: "/\(victim)/-/\(basename)-\(latest).tgz") == 2)
                let records = try await harness.allRecords()
                #expect(records[victim]?["skipped_versions"]?[latest]?.stringValue == "integrity_mismatch")
                #expect(harness.metric("npm_mirror_consumer_verification_failures_total", labels: #"kind="integrity",reason="integrity_mismatch""#) == 2)
                #expect(try await harness.committedToEnd())
            }
        }
    }

    @Test("replica lag: the consumer waits for the announced rev; past the wait it stores what is there, marked stale")
    func replicaLag() async throws {
        try await withSimulator(packages: 10) { simulator in
            try await withConsumerHarness(simulator: simulator) { harness in
                try await harness.produceFeed()
                try await harness.consumeAll()
                let name = try #require(simulator.notablePackages.ordinary.first)
                simulator.replicaLag = .seconds(2)
                _ = try simulator.publish(.newVersion(of: name))
                try await harness.produceFeed()
                try await harness.consumeAll(["REPLICA_LAG_WAIT": "6s"])
                var records = try await harness.allRecords()
                #expect(records[name]?["stale"]?.boolValue == false)
                #expect(records[name]?["packument_rev"]?.stringValue == simulator.currentRev(of: name))

                simulator.replicaLag = .seconds(30)
                _ = try simulator.publish(.newVersion(of: name))
                try await harness.produceFeed()
                try await harness.consumeAll(["REPLICA_LAG_WAIT": "500ms"])
                records = try await harness.allRecords()
                #expect(records[name]?["stale"]?.boolValue == true)
            }
        }
    }

    @Test("cancelled mid-batch and restarted: nothing lost, no duplicate record, no partial file")
    func cancelledAndRestarted() async throws {
        try await withSimulator(packages: 60) { simulator in
            try await withConsumerHarness(simulator: simulator) { harness in
                try await harness.produceFeed()
                simulator.faults.add(FaultRule(kind: .slowResponse, targets: [.tarball], delayMilliseconds: 200))
                let first = try harness.application(exitWhenIdle: nil)
                let run = Task { try await first.runConsumer() }
                // Cancel once some changes are recorded, with many more still to come.
                let deadline = ContinuousClock.now + .seconds(60)
                while ContinuousClock.now < deadline, (try? await harness.allRecords().count) ?? 0 < 4 {
                    try await Task.sleep(for: .milliseconds(100))
                }
                run.cancel()
                _ = await run.result
                let partial = try await harness.allRecords().count
                simulator.faults.removeAll()
                try await harness.consumeAll()

                let feed = try await harness.producer.feed()
                let records = try await harness.allRecords()
                #expect(partial > 0 && partial < feed.count * 2, "the cancel should land mid-run (\(partial) records)")
                #expect(records.count == feed.count * 2)
                #expect(try harness.partialFiles().isEmpty)
                #expect(try await harness.committedToEnd())
            }
        }
    }

    @Test("two consumers in one group share the partitions and together process everything once in effect")
    func twoConsumersShare() async throws {
        try await withSimulator(packages: 60) { simulator in
            try await withConsumerHarness(simulator: simulator) { harness in
                try await harness.produceFeed()
                let one = try harness.application(exitWhenIdle: .seconds(3))
                let two = try harness.application(exitWhenIdle: .seconds(3))
                try await withThrowingTaskGroup(of: Void.self) { group in
                    group.addTask { try await one.runConsumer() }
                    group.addTask { try await two.runConsumer() }
                    try await group.waitForAll()
                }
                let feed = try await harness.producer.feed()
                let records = try await harness.allRecords()
                #expect(records.count == feed.count * 2)
                #expect(try await harness.committedToEnd())
                // Both took part.
                let handled = harness.metric("npm_mirror_consumer_changes_total", labels: #"result="stored""#) ?? 0
                #expect(handled >= Double(feed.count) * 0.5)
            }
        }
    }

    @Test("a lane fetches and stores its next change while the records of the one before are written; nothing is committed unrecorded")
    func recordsOverlapTheNextChange() async throws {
        try await withSimulator(packages: 8) { simulator in
            try await withConsumerHarness(simulator: simulator) { harness in
                try await harness.produceFeed()
                let feed = try await harness.producer.feed()
                try await harness.records.prepare()
                // Every record write is answered a second late; one lane, so the consumer takes one change at a time.
                harness.couch.setDelay(.seconds(1))
                simulator.resetRequestCounts()
                let application = try harness.application(["CONSUMER_CONCURRENCY": "1"], exitWhenIdle: .seconds(2))
                let run = Task { try await application.runConsumer() }

                // The second packument is fetched while the first change's records are still on their way:
                // nothing is in the database yet, and nothing is committed. (Changes superseded by a later
                // change of their package read no packument, but their change records take a second each.)
                var packuments = 0
                for _ in 0..<6000 where packuments < 2 {
                    try await Task.sleep(for: .milliseconds(5))
                    packuments = simulator.recentRequests().filter { $0.kind == "packument" }.count
                }
                #expect(packuments >= 2, "the lane never fetched a second packument")
                let written = feed.map(\.id).filter { harness.couch.revision(database: harness.database, id: $0) != nil }
                #expect(written.isEmpty, "records written before the second packument was fetched: \(written)")
                #expect(!(try await harness.committedToEnd()))

                harness.couch.setDelay(nil)
                try await run.value
                // Each package record is the one of its last change: the lane wrote them in its order.
                let records = try await harness.allRecords()
                #expect(records.count == feed.count * 2)
                for change in feed {
                    let last = feed.filter { $0.id == change.id }.map(\.seq).max()
                    #expect(records[change.id]?["last_seq"]?.intValue == last.map(Int.init), "\(change.id)")
                }
                #expect(try await harness.committedToEnd())
            }
        }
    }

    @Test("CouchDB down for a while: the consumer pauses, commits nothing unrecorded, and resumes")
    func databaseDown() async throws {
        try await withSimulator(packages: 20) { simulator in
            try await withConsumerHarness(simulator: simulator) { harness in
                try await harness.produceFeed()
                try await harness.records.prepare()
                // Down, but still accepting connections, so the double sees (and logs) each request it refuses.
                harness.couch.clearRequestLog()
                await harness.couch.goDown(.closeConnections)
                let application = try harness.application(exitWhenIdle: .seconds(2))
                let run = Task { try await application.runConsumer() }
                // The outage is felt: a request was refused and tried again.
                let retried = await eventually(within: .seconds(30)) { harness.couch.requestLog.count >= 2 }
                #expect(retried, "the consumer did not try CouchDB again while it was down: \(harness.couch.requestLog)")
                #expect(!(try await harness.committedToEnd()))
                try await harness.couch.comeBack()
                try await run.value
                let feed = try await harness.producer.feed()
                #expect(try await harness.allRecords().count == feed.count * 2)
                #expect(try await harness.committedToEnd())
            }
        }
    }
}
