import AsyncHTTPClient
import Foundation
import MirrorKafka
import MirrorPipeline
import MirrorSignatures
import MirrorTestSupport
import NIOCore
import NPMRegistry
import Prometheus
import RegistrySimulator
import Testing
import NPMNames

private let fixtures = recordedFixture("npm-recorded")

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

    /// The cost issue #14 found: the tracker copied a partition's pending set and sorted it for
    /// every message, so many messages in flight behind one slow change cost n². With a deque per
    /// partition a quarter of a million of them cost a few million steps. The old tracker's copies
    /// come to about 6 × 10¹⁰ element moves by count (estimated, not run), far beyond the limit.
    @Test("a quarter of a million messages behind one held change cost linear work", .timeLimit(.minutes(1)))
    func manyBehindOneHeld() {
        var tracker = OffsetTracker()
        let count: Int64 = 250_000
        for offset in 0..<count { tracker.received(p0, offset: offset, seq: offset) }
        #expect(tracker.inFlight == Int(count))
        // Everything after the first completes, newest first: nothing may be committed meanwhile.
        for offset in stride(from: count - 1, to: 0, by: -1) {
            tracker.completed(p0, offset: offset)
            if offset % 50_000 == 0 { #expect(tracker.committable().isEmpty) }
        }
        #expect(tracker.inFlight == 1)
        #expect(tracker.committable().isEmpty, "offset 0 is held, so nothing may be committed")
        tracker.completed(p0, offset: 0)
        #expect(tracker.committable().map(\.offset) == [count - 1])
        #expect(tracker.highestCompleteSeq == count - 1)
        #expect(tracker.inFlight == 0)
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

    @Test("dist.signatures, dist.attestations and the description are read; odd shapes are stepped over")
    func signaturesAndAttestations() throws {
        let body = #"""
            {"name": "sigstore", "description": "code-signing for npm packages",
             "versions": {
              "1.0.0": {"dist": {"integrity": "sha512-e+qf", "signatures": [
                  {"keyid": "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA", "sig": "MEQCIBlp"},
                  {"keyid": 5, "sig": "x"}, "nonsense", {"sig": "no key id"}, {"keyid": "SHA256:second", "sig": "MEUC"}],
                "attestations": {"url": "https://registry.npmjs.org/-/npm/v1/attestations/sigstore@1.0.0",
                                 "provenance": {"predicateType": "https://slsa.dev/provenance/v0.2"}}}},
              "0.9.0": {"dist": {"shasum": "ab", "signatures": {"not": "an array"}, "attestations": []}}}}
            """#
        let packument = try Packument.parse(Array(body.utf8), expectedName: "sigstore")
        let signed = try #require(packument.versions["1.0.0"])
        #expect(signed.signatures == [
            DistSignature(keyid: "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA", sig: "MEQCIBlp"),
            DistSignature(keyid: "SHA256:second", sig: "MEUC"),
        ])
        #expect(signed.attestationsURL == "https://registry.npmjs.org/-/npm/v1/attestations/sigstore@1.0.0")
        #expect(signed.provenancePredicateType == "https://slsa.dev/provenance/v0.2")
        let plain = try #require(packument.versions["0.9.0"])
        #expect(plain.signatures.isEmpty && plain.attestationsURL == nil && plain.provenancePredicateType == nil)
        #expect(packument.description == "code-signing for npm packages")

        let long = String(repeating: "é", count: 5_000)
        let odd = try Packument.parse(Array(#"{"name": "x", "description": ["not", "a", "string"]}"#.utf8), expectedName: "x")
        #expect(odd.description == nil)
        let cut = try Packument.parse(Array(#"{"name": "x", "description": "\#(long)"}"#.utf8), expectedName: "x")
        #expect(cut.description?.count == Packument.maximumDescriptionLength)
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
            (#"{"name": "x", "versions": null}"#, "versions"),
            (#"{"name": "x", "time": [], "versions": {}}"#, "time"),
            (#""#, nil),
            (#"{"name": "x", "readme": "cut"#, nil),
            (#"{"name": "x"} {}"#, nil),
            (#"{"name": "x", "versions": {"1.0.0": {"dist": {"shasum": "ab"}}}"#, nil),
        ]
    )
    func wrongTypes(body: String, field: String?) {
        let error = #expect(throws: PackumentError.self) { try Packument.parse(Array(body.utf8), expectedName: "x") }
        #expect(error?.field == field)
    }

    @Test("fields the mirror does not read are stepped over whatever they hold; the ones it reads keep their meaning")
    func stepsOverTheRest() throws {
        let deep = String(repeating: "[", count: 50_000) + String(repeating: "]", count: 50_000)
        let body = #"""
            {"readme": "# x \"quoted\" \u00e9\ud83d\ude00", "deep": \#(deep), "_id": "x", "name": null, "_rev": "3-abc",
             "time": {"created": "2020-01-01T00:00:00.000Z", "1.0.0": "2020-01-02T00:00:00.000Z", "unpublished": {"time": "x", "versions": ["1.0.0"]}},
             "dist-tags": {"latest": "1.0.0"}, "maintainers": ["plain", {"name": "obj", "email": "e"}, 5, {"email": "no name"}],
             "versions": {"1.0.0": {"scripts": {"a": [1, 2.5e3, -0.1, true, false, null]}, "author": {"name": "Ann \u0041", "url": "u"},
               "dependencies": {"a": "^1", "b": 5, "c": "~2"},
               "dist": {"integrity": "sha512-AAAA", "size": 1234, "unpackedSize": 5.5, "tarball": "http://r/x/-/x-1.0.0.tgz", "extra": {"nested": [{}]}}},
               "2.0.0": {"author": "Bob", "dist": {"shasum": "ab", "size": -7, "unpackedSize": 99999999999999999999}}}}
            """#
        let packument = try Packument.parse(Array(body.utf8), expectedName: "x")
        #expect(packument.name == "x" && packument.rev == "3-abc" && packument.revGeneration == 3)
        #expect(packument.isUnpublished && packument.time == ["created": "2020-01-01T00:00:00.000Z", "1.0.0": "2020-01-02T00:00:00.000Z"])
        #expect(packument.latest == "1.0.0" && packument.maintainers == ["plain", "obj"])
        let first = try #require(packument.versions["1.0.0"])
        #expect(first.author == "Ann A" && first.dependencies == ["a": "^1", "c": "~2"])
        #expect(first.integrity == "sha512-AAAA" && first.shasum == nil && first.size == 1234 && first.unpackedSize == nil)
        #expect(first.tarballURL == "http://r/x/-/x-1.0.0.tgz")
        let second = try #require(packument.versions["2.0.0"])
        #expect(second.author == "Bob" && second.shasum == "ab" && second.size == -7 && second.unpackedSize == nil)
    }

    @Test("every packument the simulator serves reads the same as through a full JSON tree")
    func agreesWithFullParse() async throws {
        var configuration = RegistrySimulator.Configuration()
        configuration.packages = 150
        configuration.seed = 7
        configuration.hugePackumentBytes = 2 << 20
        try await withRegistrySimulator(configuration: configuration) { simulator in
            let client = PackageClient(registryURL: simulator.registryURL, http: RegistryHTTP(client: .shared, timeout: .seconds(10), metrics: PrometheusMetricsFactory(registry: PrometheusCollectorRegistry())))
            var compared = 0
            for name in simulator.packageNames {
                // Deleted packages answer 404.
                guard let buffer = try? await client.packument(name, maxBytes: 1 << 28) else { continue }
                let body = Array(buffer.readableBytesView)
                let packument = try Packument.parse(body, expectedName: name)
                let tree = try #require(try JSONSerialization.jsonObject(with: Data(body)) as? [String: Any])
                #expect(packument.rev == tree["_rev"] as? String, "\(name)")
                #expect(packument.distTags == (tree["dist-tags"] as? [String: String] ?? [:]), "\(name)")
                var time = tree["time"] as? [String: Any] ?? [:]
                #expect(packument.isUnpublished == (time.removeValue(forKey: "unpublished") != nil), "\(name)")
                #expect(packument.time == time.compactMapValues { $0 as? String }, "\(name)")
                let versions = tree["versions"] as? [String: [String: Any]] ?? [:]
                #expect(Set(packument.versions.keys).union(packument.malformedVersions.keys) == Set(versions.keys), "\(name)")
                for (version, entry) in versions {
                    guard let parsed = packument.versions[version] else { continue }
                    let dist = entry["dist"] as? [String: Any] ?? [:]
                    #expect(parsed.integrity == dist["integrity"] as? String && parsed.shasum == dist["shasum"] as? String, "\(name)@\(version)")
                    #expect(parsed.tarballURL == dist["tarball"] as? String, "\(name)@\(version)")
                    #expect(parsed.size == (dist["size"] as? NSNumber)?.int64Value, "\(name)@\(version)")
                    #expect(parsed.dependencies == (entry["dependencies"] as? [String: String] ?? [:]), "\(name)@\(version)")
                    let author = (entry["author"] as? String) ?? ((entry["author"] as? [String: Any])?["name"] as? String)
                    #expect(parsed.author == author, "\(name)@\(version)")
                }
                let maintainers = (tree["maintainers"] as? [Any] ?? []).compactMap { ($0 as? [String: Any])?["name"] as? String ?? $0 as? String }
                #expect(packument.maintainers == maintainers, "\(name)")
                compared += 1
            }
            #expect(compared > 100)
        }
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
        #expect(PackageName.registryPath("foobar") == "/foobar")
        #expect(PackageName.registryPath("@scope/name") == "/@scope%2Fname")
        #expect(!PackageName.registryPath("../x").contains("/../"))
        #expect(PackageName.registryPath("a b\u{0}") == "/a%20b%00")
        let version = Packument.Version(version: "1.0.0", tarballURL: "https://evil.example/x.tgz", shasum: "ab", integrity: nil, size: nil, unpackedSize: nil, dependencies: [:], author: nil)
        #expect(Packument.tarballURL(name: "@scope/name", version: version, registryURL: "http://r") == "http://r/@scope/name/-/name-1.0.0.tgz")
        var local = version
        local.tarballURL = "http://r/foobar/-/foobar-1.0.0.tgz"
        #expect(Packument.tarballURL(name: "foobar", version: local, registryURL: "http://r") == "http://r/foobar/-/foobar-1.0.0.tgz")
    }
}
