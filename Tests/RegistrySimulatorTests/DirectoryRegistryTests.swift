import Foundation
import NIOCore
import NIOHTTP1
import RegistrySimulator
import Testing

@Suite("--from DIR: serving recorded data")
struct DirectoryRegistryTests {
    /// A registry directory made of the recorded fixtures.
    private func makeDirectory() throws -> URL {
        let root = try temporaryDirectory()
        let fileManager = FileManager.default
        let packuments = root.appendingPathComponent("packuments")
        let tarballs = root.appendingPathComponent("tarballs/foobar/-")
        try fileManager.createDirectory(at: packuments, withIntermediateDirectories: true)
        try fileManager.createDirectory(at: tarballs, withIntermediateDirectories: true)
        try Fixtures.data("packument-foobar.json").write(to: packuments.appendingPathComponent("foobar.json"))
        try Fixtures.data("packument-unpublished.json").write(to: packuments.appendingPathComponent("babel-plugin-autocss.json"))
        try Fixtures.data("packument-security-holding.json").write(to: packuments.appendingPathComponent("webpack.js.org.json"))
        for version in ["1.0.0", "1.1.0"] {
            try Fixtures.data("foobar-\(version).tgz").write(to: tarballs.appendingPathComponent("foobar-\(version).tgz"))
        }
        return root
    }

    @Test("recorded packuments and tarballs are served, and their integrity verifies")
    func servesFixtures() async throws {
        let directory = try self.makeDirectory()
        try await withSimulator({ $0.directory = directory.path }) { sim in
            let page = try await HTTP.get(sim.replicateURL + "/registry/_changes").json()
            let results = try #require(page["results"] as? [[String: Any]])
            #expect(Set(results.compactMap { $0["id"] as? String }) == ["foobar", "babel-plugin-autocss", "webpack.js.org"])
            let foobarRev = results.first { $0["id"] as? String == "foobar" }.flatMap { ($0["changes"] as? [[String: Any]])?.first?["rev"] as? String }
            #expect(foobarRev == "110049-61bf33b897e6fc8ce29c16f6", "the recorded _rev is announced")

            let recorded = try Fixtures.json("packument-foobar.json")
            let packument = try await HTTP.get(sim.registryURL + "/foobar").json()
            #expect(Set(packument.keys) == Set(recorded.keys))
            #expect(packument["_rev"] as? String == recorded["_rev"] as? String)
            let versions = try #require(packument["versions"] as? [String: [String: Any]])
            #expect(versions.count == 2)
            for (version, manifest) in versions {
                let dist = try #require(manifest["dist"] as? [String: Any])
                let url = try #require(dist["tarball"] as? String)
                #expect(url == "\(sim.registryURL)/foobar/-/foobar-\(version).tgz", "links point at the simulator")
                let tarball = try await HTTP.get(url)
                #expect(tarball.bytes == Array(try Fixtures.data("foobar-\(version).tgz")))
                #expect(Digest.integrity(tarball.bytes) == dist["integrity"] as? String)
                #expect(Digest.shasum(tarball.bytes) == dist["shasum"] as? String)
            }

            let abbreviated = try await HTTP.get(sim.registryURL + "/foobar", accept: "application/vnd.npm.install-v1+json").json()
            #expect(Set(abbreviated.keys) == ["name", "dist-tags", "versions", "modified"])
            let recordedShort = try Fixtures.json("packument-foobar-abbreviated.json")
            let shortVersion = try #require((abbreviated["versions"] as? [String: [String: Any]])?["1.0.0"])
            let recordedShortVersion = try #require((recordedShort["versions"] as? [String: [String: Any]])?["1.0.0"])
            #expect(Set(shortVersion.keys) == Set(recordedShortVersion.keys))

            let stub = try await HTTP.get(sim.registryURL + "/babel-plugin-autocss").json()
            #expect(((stub["time"] as? [String: Any])?["unpublished"] as? [String: Any])?["versions"] as? [String] == ["0.0.1"])
            let holding = try await HTTP.get(sim.registryURL + "/webpack.js.org").json()
            #expect((holding["dist-tags"] as? [String: String])?["latest"] == "0.0.1-security")
            #expect(try await HTTP.get(sim.registryURL + "/foobar/-/foobar-9.9.9.tgz").status == 404)
        }
    }

    @Test("a directory without packuments/ is refused")
    func badDirectory() async throws {
        let empty = try temporaryDirectory()
        var configuration = RegistrySimulator.Configuration()
        configuration.directory = empty.path
        await #expect(throws: RegistrySimulatorError.self) {
            try await withRegistrySimulator(configuration: configuration) { _ in }
        }
    }
}
