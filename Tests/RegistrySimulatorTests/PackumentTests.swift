import Foundation
import NIOCore
import NIOHTTP1
import RegistrySimulator
import Testing

@Suite("Registry service: packuments")
struct PackumentTests {
    static let corgi = "application/vnd.npm.install-v1+json"

    @Test("full packuments have the recorded top-level, version and dist shapes")
    func fullShape() async throws {
        let recorded = try Fixtures.json("packument-foobar.json")
        let recordedVersion = try #require((recorded["versions"] as? [String: Any])?["1.0.0"] as? [String: Any])
        let recordedDist = try #require(recordedVersion["dist"] as? [String: Any])
        try await withSimulator { sim in
            let name = try #require(sim.notablePackages.ordinary.first)
            let response = try await HTTP.get(sim.registryURL + "/" + name, accept: "application/json")
            #expect(response.status == 200)
            #expect(response.headers.first(name: "content-type")?.hasPrefix("application/json") == true)
            let packument = try response.json()
            expectSameShape(packument, as: recorded, "packument")
            #expect(packument["_id"] as? String == name && packument["name"] as? String == name)
            let rev = try #require(packument["_rev"] as? String)
            #expect(rev.wholeMatch(of: /[0-9]+-[0-9a-f]{32}/) != nil)
            let versions = try #require(packument["versions"] as? [String: [String: Any]])
            let time = try #require(packument["time"] as? [String: String])
            #expect(time["created"] != nil && time["modified"] != nil)
            for (version, manifest) in versions {
                // Legacy (2011) and cnpmcore-added fields are not expected in new documents.
                expectSameShape(
                    manifest, as: recordedVersion,
                    ignoring: ["_engineSupported", "_defaultsLoaded", "_cnpmcore_publish_time"], "version \(version)"
                )
                #expect(manifest["version"] as? String == version)
                #expect(time[version] != nil)
                let dist = try #require(manifest["dist"] as? [String: Any])
                expectSameShape(dist, as: recordedDist, ignoring: ["size"], "dist")
                #expect(dist["fileCount"] is Int && dist["unpackedSize"] is Int)
                #expect((dist["integrity"] as? String)?.hasPrefix("sha512-") == true)
                #expect((dist["shasum"] as? String)?.count == 40)
            }
            let tags = try #require(packument["dist-tags"] as? [String: String])
            #expect(tags["latest"].map { versions[$0] != nil } == true)
        }
    }

    @Test("Accept: application/vnd.npm.install-v1+json gives the abbreviated form")
    func abbreviatedShape() async throws {
        let recorded = try Fixtures.json("packument-foobar-abbreviated.json")
        let recordedVersion = try #require((recorded["versions"] as? [String: Any])?["1.0.0"] as? [String: Any])
        try await withSimulator { sim in
            let name = try #require(sim.notablePackages.ordinary.first)
            let response = try await HTTP.get(sim.registryURL + "/" + name, accept: Self.corgi)
            #expect(response.headers.first(name: "content-type")?.hasPrefix(Self.corgi) == true)
            let packument = try response.json()
            // `description` and `_source_registry_name` were added by cnpmcore to the fixture.
            expectSameShape(packument, as: recorded, ignoring: ["description", "_source_registry_name"], "abbreviated")
            #expect(Set(packument.keys) == ["name", "dist-tags", "versions", "modified"])
            for (version, manifest) in try #require(packument["versions"] as? [String: [String: Any]]) {
                expectSameShape(manifest, as: recordedVersion, "abbreviated version \(version)")
                #expect(manifest["_npmUser"] == nil && manifest["maintainers"] == nil, "abbreviated versions are trimmed")
            }
            let full = try await HTTP.get(sim.registryURL + "/" + name).json()
            let fullVersions = try #require(full["versions"] as? [String: [String: Any]])
            let shortVersions = try #require(packument["versions"] as? [String: [String: Any]])
            #expect(Set(fullVersions.keys) == Set(shortVersions.keys))
            let version = try #require(fullVersions.keys.sorted().first)
            let fullDist = fullVersions[version]?["dist"] as? [String: Any]
            let shortDist = shortVersions[version]?["dist"] as? [String: Any]
            #expect(fullDist?["integrity"] as? String == shortDist?["integrity"] as? String)
        }
    }

    @Test("unknown names are 404 {\"error\":\"not_found\"}, deleted ones too")
    func notFound() async throws {
        try await withSimulator { sim in
            for name in ["no-such-package-anywhere", "@nope%2Fnothing", try #require(sim.notablePackages.deleted.first)] {
                let response = try await HTTP.get(sim.registryURL + "/" + name)
                #expect(response.status == 404)
                #expect(response.text == #"{"error":"not_found"}"#)
            }
        }
    }

    @Test("unpublished packages are served as the recorded stub with time.unpublished")
    func unpublishedStub() async throws {
        let recorded = try Fixtures.json("packument-unpublished.json")
        let recordedTime = try #require(recorded["time"] as? [String: Any])
        let recordedUnpublished = try #require(recordedTime["unpublished"] as? [String: Any])
        try await withSimulator { sim in
            let name = try #require(sim.notablePackages.unpublished.first)
            let stub = try await HTTP.get(sim.registryURL + "/" + name).json()
            expectSameShape(stub, as: recorded, "unpublished stub")
            #expect(stub["versions"] == nil && stub["dist-tags"] == nil)
            #expect((stub["_rev"] as? String) == sim.currentRev(of: name))
            let time = try #require(stub["time"] as? [String: Any])
            let unpublished = try #require(time["unpublished"] as? [String: Any])
            expectSameShape(unpublished, as: recordedUnpublished, "time.unpublished")
            let versions = try #require(unpublished["versions"] as? [String])
            #expect(!versions.isEmpty && versions.allSatisfy { time[$0] is String })
            // The tarballs of an unpublished package are gone.
            let tarball = try await HTTP.get(sim.registryURL + "/\(name)/-/\(name)-\(versions[0]).tgz")
            #expect(tarball.status == 404)
        }
    }

    @Test("scoped names work as /@scope%2Fname and /@scope/name; dots and underscores too")
    func names() async throws {
        try await withSimulator { sim in
            let notable = sim.notablePackages
            let scoped = try #require(notable.scoped.first)
            let encoded = try await HTTP.get(sim.registryURL + "/" + scoped.replacingOccurrences(of: "/", with: "%2F"))
            let encodedLower = try await HTTP.get(sim.registryURL + "/" + scoped.replacingOccurrences(of: "/", with: "%2f"))
            let plain = try await HTTP.get(sim.registryURL + "/" + scoped)
            #expect(encoded.status == 200 && plain.status == 200 && encodedLower.status == 200)
            #expect(encoded.bytes == plain.bytes)
            #expect(try encoded.json()["name"] as? String == scoped)
            for name in [try #require(notable.dotted.first), try #require(notable.underscored.first)] {
                let packument = try await HTTP.get(sim.registryURL + "/" + name).json()
                #expect(packument["name"] as? String == name)
            }
        }
    }

    @Test("the long tail, large packuments and large tarballs are there")
    func spread() async throws {
        try await withSimulator(packages: 40) { sim in
            let notable = sim.notablePackages
            let longTail = try #require(notable.longTail.first)
            let packument = try await HTTP.get(sim.registryURL + "/" + longTail).json()
            #expect(((packument["versions"] as? [String: Any])?.count ?? 0) >= 100)
            let large = try await HTTP.get(sim.registryURL + "/" + (try #require(notable.largePackuments.first)))
            #expect(large.body.readableBytes >= 2 << 20, "several-MB packument: \(large.body.readableBytes) bytes")
            _ = try large.json()
            let bigTarballPackage = try #require(notable.largeTarballs.first)
            let big = try await HTTP.get(sim.registryURL + "/" + bigTarballPackage).json()
            let latest = try #require((big["dist-tags"] as? [String: String])?["latest"])
            let dist = try #require(((big["versions"] as? [String: [String: Any]])?[latest])?["dist"] as? [String: Any])
            let tarball = try await HTTP.get(try #require(dist["tarball"] as? String))
            #expect(tarball.body.readableBytes >= 4 << 20, "many-MB tarball: \(tarball.body.readableBytes) bytes")
            #expect(Digest.integrity(tarball.bytes) == dist["integrity"] as? String)
        }
    }

    @Test("a packument of a requested size (hugePackumentBytes)")
    func hugePackument() async throws {
        let target = 6 << 20
        try await withSimulator(packages: 0, { $0.hugePackumentBytes = target }) { sim in
            let name = try #require(sim.notablePackages.hugePackument)
            // Its first render signs 1,000 versions (BigInt ECDSA, slow in a debug build): 3 s alone,
            // 71 s once while the whole suite shared two cores with a release build.
            let response = try await HTTP.get(sim.registryURL + "/" + name, timeout: .seconds(240))
            let size = response.body.readableBytes
            print("huge packument: \(size) bytes (asked for \(target))")
            #expect(abs(size - target) < target / 20)
            let packument = try response.json()
            #expect((packument["versions"] as? [String: Any])?.count == 1000)
        }
    }
}
