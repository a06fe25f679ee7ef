import Foundation
import MirrorKafka
import MirrorPipeline
import NPMRegistry
import Testing

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("shared/fixtures/npm-recorded")

@Suite("Offset tracker")
struct OffsetTrackerTests {
    let p0 = KafkaTopicPartition(topic: "t", partition: 0)
    let p1 = KafkaTopicPartition(topic: "t", partition: 1)

    @Test("commits only through the highest offset below which everything is done")
    func contiguousPrefix() {
        var tracker = OffsetTracker()
        for offset in 10..<15 { tracker.received(p0, offset: Int64(offset), seq: Int64(offset * 100)) }
        tracker.completed(p0, offset: 12)
        tracker.completed(p0, offset: 13)
        #expect(tracker.committable().isEmpty, "10 and 11 are not done")
        tracker.completed(p0, offset: 10)
        #expect(tracker.committable().map(\.offset) == [10])
        tracker.completed(p0, offset: 11)
        #expect(tracker.committable().map(\.offset) == [13])
        #expect(tracker.highestCompleteSeq == 1300)
        tracker.committed(tracker.committable())
        #expect(tracker.committable().isEmpty)
        tracker.completed(p0, offset: 14)
        #expect(tracker.committable().map(\.offset) == [14])
        #expect(tracker.inFlight == 0)
    }

    @Test("partitions are independent; revoked partitions are forgotten; unknown completions are ignored")
    func partitions() {
        var tracker = OffsetTracker()
        tracker.received(p0, offset: 0, seq: 1)
        tracker.received(p1, offset: 5, seq: 2)
        tracker.completed(p1, offset: 5)
        #expect(tracker.committable() == [KafkaTopicPartitionOffset(topic: "t", partition: 1, offset: 5)])
        tracker.completed(p1, offset: 99)
        tracker.revoke([p0])
        #expect(tracker.inFlight == 0)
        tracker.completed(p0, offset: 0)
        #expect(tracker.committable().count == 1)
    }

    @Test("gaps in offsets (compaction, markers) do not block commits")
    func gaps() {
        var tracker = OffsetTracker()
        tracker.received(p0, offset: 3, seq: 1)
        tracker.received(p0, offset: 7, seq: 2)
        tracker.completed(p0, offset: 7)
        #expect(tracker.committable().isEmpty)
        tracker.completed(p0, offset: 3)
        #expect(tracker.committable().map(\.offset) == [7])
    }
}

@Suite("Packument parsing")
struct PackumentTests {
    @Test("the recorded foobar packument: versions, digests, dist-tags, time, maintainers")
    func foobar() throws {
        let body = try Data(contentsOf: fixtures.appendingPathComponent("packument-foobar.json"))
        let packument = try Packument.parse(Array(body), expectedName: "foobar")
        #expect(Set(packument.versions.keys) == ["1.0.0", "1.1.0"])
        #expect(packument.versions["1.0.0"]?.shasum == "116ff82f61ce1e9545c5ba302ead651f5bb31247")
        #expect(packument.versions["1.1.0"]?.integrity?.hasPrefix("sha512-Tgp9F/") == true)
        #expect(packument.latest == "1.1.0")
        #expect(packument.revGeneration != nil)
        #expect(!packument.maintainers.isEmpty)
        #expect(!packument.isUnpublished)
    }

    @Test("the unpublished and security-holding stubs")
    func stubs() throws {
        let unpublished = try Data(contentsOf: fixtures.appendingPathComponent("packument-unpublished.json"))
        let stub = try Packument.parse(Array(unpublished), expectedName: "babel-plugin-autocss")
        #expect(stub.isUnpublished && stub.versions.isEmpty)
        let holding = try Data(contentsOf: fixtures.appendingPathComponent("packument-security-holding.json"))
        let name = try #require((try JSONSerialization.jsonObject(with: holding) as? [String: Any])?["name"] as? String)
        let security = try Packument.parse(Array(holding), expectedName: name)
        #expect(security.latest == "0.0.1-security" && Set(security.versions.keys) == ["0.0.1-security"])
    }

    @Test(
        "wrong types in the fields the pipeline reads give a clear error naming the field",
        arguments: [
            (#"[]"#, nil as String?),
            (#"{"name": 5}"#, "name"),
            (#"{"name": "other"}"#, "name"),
            (#"{"name": "x", "versions": []}"#, "versions"),
            (#"{"name": "x", "dist-tags": "latest"}"#, "dist-tags"),
            (#"{"name": "x", "time": {"1.0.0": 5}}"#, "time.1.0.0"),
            (#"{"name": "x", "_rev": {}}"#, "_rev"),
        ]
    )
    func wrongTypes(body: String, field: String?) {
        let error = #expect(throws: PackumentError.self) { try Packument.parse(Array(body.utf8), expectedName: "x") }
        #expect(error?.field == field)
    }

    @Test("a version without a usable dist is set aside, the others kept")
    func malformedVersion() throws {
        let body = #"{"name":"x","versions":{"1.0.0":{"dist":{"shasum":"ab"}},"2.0.0":{"dist":{}},"3.0.0":7}}"#
        let packument = try Packument.parse(Array(body.utf8), expectedName: "x")
        #expect(Set(packument.versions.keys) == ["1.0.0"])
        #expect(packument.malformedVersions == ["2.0.0": "no_digest", "3.0.0": "not_an_object"])
    }

    @Test("registry paths and tarball URLs: scoped names, hostile names, foreign hosts")
    func urls() {
        #expect(Packument.registryPath(for: "foobar") == "/foobar")
        #expect(Packument.registryPath(for: "@scope/name") == "/@scope%2Fname")
        #expect(!Packument.registryPath(for: "../x").contains("/../"))
        #expect(Packument.registryPath(for: "a b\u{0}") == "/a%20b%00")
        let version = Packument.Version(version: "1.0.0", tarballURL: "https://evil.example/x.tgz", shasum: "ab", integrity: nil, size: nil, unpackedSize: nil, dependencies: [:], author: nil)
        #expect(Packument.tarballURL(name: "@scope/name", version: version, registryURL: "http://r") == "http://r/@scope/name/-/name-1.0.0.tgz")
        var local = version
        local.tarballURL = "http://r/foobar/-/foobar-1.0.0.tgz"
        #expect(Packument.tarballURL(name: "foobar", version: local, registryURL: "http://r") == "http://r/foobar/-/foobar-1.0.0.tgz")
    }
}
