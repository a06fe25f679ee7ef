import Foundation
import NIOCore
import NIOHTTP1
@testable import RegistrySimulator
import Testing

@Suite("Registry service: tarballs")
struct TarballTests {
    @Test("tarballs are gzip'd ustar with package/package.json; dist digests are true")
    func realTarballs() async throws {
        try await withSimulator { sim in
            #expect(sim.tarballBuildCount == 0, "tarballs are built lazily")
            let notable = sim.notablePackages
            for name in [try #require(notable.ordinary.first), try #require(notable.scoped.first)] {
                let packument = try await HTTP.get(sim.registryURL + "/" + name).json()
                let versions = try #require(packument["versions"] as? [String: [String: Any]])
                for (version, manifest) in versions {
                    let dist = try #require(manifest["dist"] as? [String: Any])
                    let url = try #require(dist["tarball"] as? String)
                    let basename = name.split(separator: "/").last.map(String.init) ?? name
                    #expect(url == "\(sim.registryURL)/\(name)/-/\(basename)-\(version).tgz")
                    let tarball = try await HTTP.get(url)
                    #expect(tarball.status == 200)
                    #expect(tarball.headers.first(name: "content-length") == String(tarball.body.readableBytes))
                    #expect(Digest.integrity(tarball.bytes) == dist["integrity"] as? String)
                    #expect(Digest.shasum(tarball.bytes) == dist["shasum"] as? String)

                    let file = try temporaryDirectory().appendingPathComponent("t.tgz")
                    try tarball.data.write(to: file)
                    let listing = try await run("/usr/bin/tar", ["-tzf", file.path])
                    #expect(listing.status == 0)
                    let entries = String(decoding: listing.output, as: UTF8.self).split(separator: "\n").map(String.init)
                    #expect(entries.first == "package/package.json")
                    #expect(entries.count == dist["fileCount"] as? Int)
                    let manifestFile = try await run("/usr/bin/tar", ["-xzOf", file.path, "package/package.json"])
                    let packageJSON = try #require(try JSONSerialization.jsonObject(with: manifestFile.output) as? [String: Any])
                    #expect(packageJSON["name"] as? String == name)
                    #expect(packageJSON["version"] as? String == version)
                    let everything = try await run("/usr/bin/tar", ["-xzOf", file.path])
                    #expect(everything.output.count == dist["unpackedSize"] as? Int)
                }
            }
            #expect(sim.tarballBuildCount > 0)
        }
    }

    @Test("unknown tarballs are 404")
    func missing() async throws {
        try await withSimulator { sim in
            let name = try #require(sim.notablePackages.ordinary.first)
            #expect(try await HTTP.get("\(sim.registryURL)/\(name)/-/\(name)-99.99.99.tgz").status == 404)
            #expect(try await HTTP.get("\(sim.registryURL)/nope/-/nope-1.0.0.tgz").status == 404)
            let deleted = try #require(sim.notablePackages.deleted.first)
            #expect(try await HTTP.get("\(sim.registryURL)/\(deleted)/-/\(deleted)-1.0.0.tgz").status == 404)
        }
    }

    @Test("ustar headers carry a correct checksum, size and magic")
    func ustarHeader() throws {
        let header = TarArchive.header(path: "package/package.json", size: 1234, mode: 0o644)
        #expect(header.count == 512)
        func field(_ offset: Int, _ length: Int) -> String {
            String(decoding: header[offset..<offset + length].prefix { $0 != 0 && $0 != 0x20 }, as: UTF8.self)
        }
        #expect(field(0, 100) == "package/package.json")
        #expect(Int(field(124, 12), radix: 8) == 1234)
        #expect(field(257, 6) == "ustar")
        var blanked = header
        for index in 148..<156 { blanked[index] = 0x20 }
        #expect(Int(field(148, 8), radix: 8) == blanked.reduce(0) { $0 + Int($1) })

        let long = String(repeating: "d/", count: 60) + "file.js"
        let split = TarArchive.header(path: long, size: 1, mode: 0o644)
        let name = String(decoding: split[0..<100].prefix { $0 != 0 }, as: UTF8.self)
        let prefix = String(decoding: split[345..<500].prefix { $0 != 0 }, as: UTF8.self)
        #expect(prefix + "/" + name == long)
    }

    @Test("the same spec builds the same bytes")
    func deterministicBuild() throws {
        let spec = TarballSpec(packageName: "x", version: "1.0.0", description: "d", seed: 42, sourceFiles: 3, payloadBytes: 100_000)
        let first = try TarballBuilder.build(spec)
        let second = try TarballBuilder.build(spec)
        #expect(first.bytes == second.bytes)
        #expect(first.info == second.info)
        var other = spec
        other.seed = 43
        #expect(try TarballBuilder.build(other).bytes != first.bytes)
    }
}
