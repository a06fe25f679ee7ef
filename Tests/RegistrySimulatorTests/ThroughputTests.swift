import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RegistrySimulator
import Testing

@Suite("Tarball throughput")
struct ThroughputTests {
    @Test("serves a large tarball and reports MB/s (measured, not asserted)")
    func throughput() async throws {
        let size = 48 << 20
        try await withSimulator(packages: 0, { $0.hugeTarballBytes = size }) { sim in
            let name = try #require(sim.notablePackages.hugeTarball)
            let packument = try await HTTP.get(sim.registryURL + "/" + name).json()
            let latest = try #require((packument["dist-tags"] as? [String: String])?["latest"])
            let dist = try #require(((packument["versions"] as? [String: [String: Any]])?[latest])?["dist"] as? [String: Any])
            let url = try #require(dist["tarball"] as? String)
            let first = try await HTTP.get(url)
            #expect(first.body.readableBytes >= size)
            #expect(Digest.integrity(first.bytes) == dist["integrity"] as? String)

            let rounds = 8
            let clock = ContinuousClock()
            let start = clock.now
            let total = try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<2 {
                    group.addTask {
                        var bytes = 0
                        for _ in 0..<rounds / 2 {
                            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(120))
                            for try await chunk in response.body { bytes += chunk.readableBytes }
                        }
                        return bytes
                    }
                }
                return try await group.reduce(0, +)
            }
            let elapsed = clock.now - start
            let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
            let rate = Double(total) / 1_048_576 / seconds
            print("tarball throughput: \(total / 1_048_576) MiB in \(String(format: "%.2f", seconds)) s = \(String(format: "%.0f", rate)) MiB/s (2 concurrent downloads, loopback)")
            #expect(total == rounds * first.body.readableBytes)
            #expect(sim.tarballBuildCount == 1, "built once, then served from memory")
        }
    }
}
