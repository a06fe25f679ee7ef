import Foundation
import NIOCore
import NIOHTTP1
import RegistrySimulator
import Testing

@Suite("Admin endpoint and request counters")
struct AdminEndpointTests {
    @Test("faults can be set, listed and cleared over HTTP")
    func faultsOverHTTP() async throws {
        try await withSimulator { sim in
            let added = try await HTTP.send(.POST, sim.registryURL + "/-/admin/faults", json: #"{"kind":"rate-limited","target":"root","count":1,"retryAfter":5}"#)
            #expect(added.status == 200)
            #expect((try added.json()["rules"] as? [Any])?.count == 1)
            let limited = try await HTTP.get(sim.replicateURL + "/")
            #expect(limited.status == 429 && limited.headers.first(name: "retry-after") == "5")

            let batch = #"{"rules":[{"kind":"http-error","targets":["tarball"],"status":502}],"stallFeed":true,"replicaLagSeconds":1.5}"#
            let state = try await HTTP.send(.POST, sim.replicateURL + "/-/admin/faults", json: batch).json()
            #expect(state["stallFeed"] as? Bool == true && state["replicaLagSeconds"] as? Double == 1.5)
            #expect(sim.faults.isFeedStalled && sim.replicaLag == .milliseconds(1500))
            #expect(sim.faults.rules.first?.status == 502)

            let listed = try await HTTP.get(sim.registryURL + "/-/admin/faults").json()
            #expect((listed["fired"] as? [String: Int])?["rate-limited"] == 1)
            let cleared = try await HTTP.send(.DELETE, sim.registryURL + "/-/admin/faults").json()
            #expect((cleared["rules"] as? [Any])?.isEmpty == true && cleared["stallFeed"] as? Bool == false)

            #expect(try await HTTP.send(.POST, sim.registryURL + "/-/admin/faults", json: "{").status == 400)
            #expect(try await HTTP.send(.POST, sim.registryURL + "/-/admin/faults", json: #"{"kind":"gremlins"}"#).status == 400)
            #expect(try await HTTP.get(sim.registryURL + "/-/admin/nothing").status == 404)
        }
    }

    @Test("stats count requests per path, kind and status; reset clears them")
    func stats() async throws {
        try await withSimulator { sim in
            let name = try #require(sim.notablePackages.ordinary.first)
            for _ in 0..<3 { _ = try await HTTP.get(sim.registryURL + "/" + name) }
            _ = try await HTTP.get(sim.replicateURL + "/registry/_changes?since=0")
            _ = try await HTTP.get(sim.replicateURL + "/registry/_changes?since=5")
            _ = try await HTTP.get(sim.registryURL + "/missing-package")

            let stats = try await HTTP.get(sim.replicateURL + "/-/admin/stats").json()
            let paths = try #require(stats["paths"] as? [String: Int])
            #expect(paths["/" + name] == 3 && paths["/registry/_changes"] == 2 && paths["/missing-package"] == 1)
            #expect((stats["kinds"] as? [String: Int])?["packument"] == 4)
            #expect((stats["statuses"] as? [String: Int])?["404"] == 1)
            #expect(stats["total"] as? Int == 6, "admin requests are not counted")

            let counts = sim.requestCounts
            #expect(counts.count(path: "/" + name) == 3 && counts.count(kind: .changes) == 2)
            let log = sim.recentRequests()
            #expect(log.map(\.uri).contains("/registry/_changes?since=5"))
            let httpLog = try await HTTP.get(sim.registryURL + "/-/admin/log?limit=2")
            #expect((try JSONSerialization.jsonObject(with: httpLog.data) as? [Any])?.count == 2)

            _ = try await HTTP.send(.POST, sim.registryURL + "/-/admin/reset")
            #expect(sim.requestCounts.total == 0)
        }
    }

    @Test("seq-reset and publish over HTTP")
    func feedControl() async throws {
        try await withSimulator { sim in
            let head = sim.updateSeq
            let published = try await HTTP.send(.POST, sim.replicateURL + "/-/admin/publish", json: #"{"count":3}"#).json()
            #expect((published["changes"] as? [Any])?.count == 3)
            #expect((published["update_seq"] as? Int ?? 0) > head)
            let reset = try await HTTP.send(.POST, sim.replicateURL + "/-/admin/seq-reset").json()
            #expect((reset["update_seq"] as? Int ?? .max) < head)
            let notable = try await HTTP.get(sim.registryURL + "/-/admin/notable").json()
            #expect((notable["scoped"] as? [String]) == sim.notablePackages.scoped)
        }
    }

    @Test("configuration is validated")
    func validation() async throws {
        var configuration = RegistrySimulator.Configuration()
        configuration.registryPort = 70_000
        #expect(throws: RegistrySimulatorError.self) { try configuration.validate() }
        configuration = RegistrySimulator.Configuration()
        configuration.publishRate = -1
        await #expect(throws: RegistrySimulatorError.self) { try await withRegistrySimulator(configuration: configuration) { _ in } }
    }
}
