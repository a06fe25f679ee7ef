import Foundation
import NIOCore
import NIOHTTP1
import RegistrySimulator
import Testing

@Suite("Live changes and replica lag")
struct LiveChangesTests {
    private func changes(_ sim: RegistrySimulator, since: Int) async throws -> [[String: Any]] {
        let page = try await HTTP.get(sim.replicateURL + "/registry/_changes?since=\(since)&limit=10000").json()
        return try #require(page["results"] as? [[String: Any]])
    }

    private static func rev(_ entry: [String: Any]) -> String? {
        (entry["changes"] as? [[String: Any]])?.first?["rev"] as? String
    }

    @Test("a new version advances update_seq, bumps the rev generation and moves latest")
    func newVersion() async throws {
        try await withSimulator { sim in
            let name = try #require(sim.notablePackages.ordinary.first)
            let before = try await HTTP.get(sim.registryURL + "/" + name).json()
            let head = sim.updateSeq
            let change = try #require(try sim.publish(.newVersion(of: name)))
            #expect(change.seq > head && sim.updateSeq == change.seq)
            let oldGeneration = Int((before["_rev"] as? String)?.split(separator: "-").first ?? "") ?? 0
            #expect(change.rev.hasPrefix("\(oldGeneration + 1)-"))

            let feed = try await self.changes(sim, since: head)
            #expect(feed.count == 1 && feed.first?["id"] as? String == name && Self.rev(feed[0]) == change.rev)
            // The package moved to the end of the feed: it is no longer at its old seq.
            let whole = try await self.changes(sim, since: 0)
            #expect(whole.filter { $0["id"] as? String == name }.count == 1)

            let after = try await HTTP.get(sim.registryURL + "/" + name).json()
            #expect(after["_rev"] as? String == change.rev)
            let version = try #require(change.version)
            #expect((after["dist-tags"] as? [String: String])?["latest"] == version)
            #expect((after["versions"] as? [String: Any])?[version] != nil)
            let root = try await HTTP.get(sim.replicateURL + "/").json()
            #expect(root["update_seq"] as? Int == change.seq)
        }
    }

    @Test("new packages, dist-tag moves and deletions")
    func otherChanges() async throws {
        try await withSimulator { sim in
            let docs = sim.docCount
            let created = try #require(try sim.publish(.newPackage(named: "brand-new")))
            #expect(created.rev.hasPrefix("1-") && sim.docCount == docs + 1)
            #expect(try await HTTP.get(sim.registryURL + "/brand-new").status == 200)

            let tagged = try #require(sim.notablePackages.longTail.first)
            let move = try #require(try sim.publish(.distTagMove(of: tagged, tag: "next")))
            let packument = try await HTTP.get(sim.registryURL + "/" + tagged).json()
            #expect((packument["dist-tags"] as? [String: String])?["next"] == move.version)

            let doomed = try #require(sim.notablePackages.ordinary.last)
            let deletion = try #require(try sim.publish(.deletion(of: doomed)))
            #expect(deletion.deleted && sim.docCount == docs)
            let feed = try await self.changes(sim, since: move.seq)
            #expect(feed.last?["id"] as? String == doomed && feed.last?["deleted"] as? Bool == true)
            #expect(try await HTTP.get(sim.registryURL + "/" + doomed).status == 404)
            #expect(try sim.publish(.deletion(of: doomed)) == nil, "deleting twice changes nothing")
        }
    }

    @Test("--publish-rate advances update_seq while running")
    func publishRate() async throws {
        try await withSimulator({ $0.publishRate = 50 }) { sim in
            let start = try await HTTP.get(sim.replicateURL + "/").json()["update_seq"] as? Int ?? 0
            var now = start
            for _ in 0..<100 where now <= start {
                try await Task.sleep(for: .milliseconds(50))
                now = try await HTTP.get(sim.replicateURL + "/").json()["update_seq"] as? Int ?? 0
            }
            #expect(now > start)
            let feed = try await self.changes(sim, since: start)
            #expect(!feed.isEmpty)
        }
    }

    @Test("a revision once served stays served when the lag is raised later")
    func raisedLagKeepsServedRevision() async throws {
        try await withSimulator({ $0.replicaLag = .milliseconds(200) }) { sim in
            let name = try #require(sim.notablePackages.ordinary.first)
            let first = try #require(try sim.publish(.newVersion(of: name)))
            try await Task.sleep(for: .milliseconds(400))
            #expect(try await HTTP.get(sim.registryURL + "/" + name).json()["_rev"] as? String == first.rev)
            sim.replicaLag = .seconds(30)
            _ = try sim.publish(.newVersion(of: name))
            let lagging = try await HTTP.get(sim.registryURL + "/" + name)
            #expect(lagging.status == 200)
            #expect(try lagging.json()["_rev"] as? String == first.rev)
        }
    }

    @Test("replica lag: the packument serves the previous rev until the lag has passed")
    func replicaLag() async throws {
        // 10 s, not 3: under the whole suite's load the feed read and the first (signing) render of
        // the old document once took longer than 3 s, and the lag had passed before the check.
        try await withSimulator({ $0.replicaLag = .seconds(10) }) { sim in
            let name = try #require(sim.notablePackages.ordinary.first)
            let oldRev = try #require(sim.currentRev(of: name))
            let change = try #require(try sim.publish(.newVersion(of: name)))
            let feed = try await self.changes(sim, since: change.seq - 1)
            #expect(feed.first.flatMap(Self.rev) == change.rev, "the feed announces the new rev at once")
            let lagging = try await HTTP.get(sim.registryURL + "/" + name).json()
            #expect(lagging["_rev"] as? String == oldRev, "the registry still serves the old document")
            #expect((lagging["versions"] as? [String: Any])?[change.version ?? ""] == nil)

            var served = oldRev
            for _ in 0..<150 where served == oldRev {
                try await Task.sleep(for: .milliseconds(100))
                served = try await HTTP.get(sim.registryURL + "/" + name).json()["_rev"] as? String ?? ""
            }
            #expect(served == change.rev)

            // A brand-new package is 404 until the lag has passed.
            _ = try sim.publish(.newPackage(named: "fresh-one"))
            #expect(try await HTTP.get(sim.registryURL + "/fresh-one").status == 404)
        }
    }
}
