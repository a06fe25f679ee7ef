import Foundation
import NIOCore
import NIOHTTP1
import RegistrySimulator
import Testing

@Suite("Deterministic generation")
struct DeterminismTests {
    /// The feed, a few packuments and their tarballs, fetched over HTTP.
    private func snapshot(seed: UInt64) async throws -> [String: [UInt8]] {
        try await withSimulator(packages: 30, seed: seed) { sim in
            var bytes: [String: [UInt8]] = [:]
            bytes["root"] = try await HTTP.get(sim.replicateURL + "/").bytes
            bytes["changes"] = try await HTTP.get(sim.replicateURL + "/registry/_changes?limit=10000").bytes
            for name in sim.notablePackages.ordinary.prefix(4) {
                // Tarball URLs embed the port, which differs between runs: compare without it.
                let packument = try await HTTP.get(sim.registryURL + "/" + name)
                bytes["packument " + name] = Array(packument.text.replacingOccurrences(of: sim.registryURL, with: "REGISTRY").utf8)
                let json = try packument.json()
                for (version, manifest) in (json["versions"] as? [String: [String: Any]]) ?? [:] {
                    let url = try #require((manifest["dist"] as? [String: Any])?["tarball"] as? String)
                    bytes["tarball \(name)@\(version)"] = try await HTTP.get(url).bytes
                }
            }
            return bytes
        }
    }

    @Test("same seed, same bytes; another seed, other bytes")
    func sameSeedSameBytes() async throws {
        let first = try await self.snapshot(seed: 11)
        let second = try await self.snapshot(seed: 11)
        #expect(first.count > 6)
        #expect(first == second)
        let other = try await self.snapshot(seed: 12)
        #expect(other["changes"] != first["changes"])
    }
}
