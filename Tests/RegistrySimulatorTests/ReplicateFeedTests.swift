import Foundation
import NIOCore
import NIOHTTP1
import RegistrySimulator
import Testing

@Suite("Replicate service: root and _changes")
struct ReplicateFeedTests {
    @Test("GET / has exactly the replicate root keys")
    func root() async throws {
        try await withSimulator { sim in
            let root = try await HTTP.get(sim.replicateURL + "/").json()
            #expect(Set(root.keys) == ["db_name", "engine", "doc_count", "update_seq"])
            #expect(root["db_name"] as? String == "registry")
            #expect(root["engine"] as? String == "npm-replicate")
            #expect(root["update_seq"] as? Int == sim.updateSeq)
            #expect(root["doc_count"] as? Int == sim.docCount)
            #expect(sim.docCount < sim.packageNames.count, "deleted documents are not counted")
        }
    }

    @Test("_changes entries have the recorded shape, with deleted: true on deletions")
    func changesShape() async throws {
        let recorded = try Fixtures.json("changes-page1.json")
        let recordedEntry = try #require((recorded["results"] as? [[String: Any]])?.first)
        try await withSimulator { sim in
            let page = try await HTTP.get(sim.replicateURL + "/registry/_changes?since=0&limit=10000").json()
            expectSameShape(page, as: recorded, "changes page")
            #expect(Set(page.keys) == ["results", "last_seq"])
            let results = try #require(page["results"] as? [[String: Any]])
            for entry in results {
                expectSameShape(entry, as: recordedEntry, "changes entry")
                let extra = Set(entry.keys).subtracting(["seq", "id", "changes", "deleted"])
                #expect(extra.isEmpty, "unexpected keys \(extra)")
                let rev = try #require((entry["changes"] as? [[String: Any]])?.first?["rev"] as? String)
                #expect(rev.wholeMatch(of: /[0-9]+-[0-9a-f]{32}/) != nil, "rev \(rev)")
            }
            let deleted = try #require(sim.notablePackages.deleted.first)
            let deletedEntry = try #require(results.first { $0["id"] as? String == deleted })
            #expect(deletedEntry["deleted"] as? Bool == true)
            #expect(results.filter { $0["deleted"] != nil }.allSatisfy { $0["deleted"] as? Bool == true })
            #expect(page["last_seq"] as? Int == sim.updateSeq)
        }
    }

    @Test("paging with since=last_seq visits every document once, seqs increase with gaps")
    func pagination() async throws {
        try await withSimulator(packages: 60) { sim in
            var since = 0
            var seqs: [Int] = []
            var ids: [String] = []
            var pages = 0
            while true {
                let page = try await HTTP.get(sim.replicateURL + "/registry/_changes?since=\(since)&limit=7").json()
                let results = try #require(page["results"] as? [[String: Any]])
                let lastSeq = try #require(page["last_seq"] as? Int)
                if results.isEmpty {
                    #expect(lastSeq == since)
                    break
                }
                #expect(results.count <= 7)
                #expect(lastSeq == results.last?["seq"] as? Int)
                seqs += results.compactMap { $0["seq"] as? Int }
                ids += results.compactMap { $0["id"] as? String }
                since = lastSeq
                pages += 1
            }
            #expect(pages == (60 + 6) / 7)
            #expect(seqs == seqs.sorted() && Set(seqs).count == seqs.count, "seqs strictly increase")
            #expect(zip(seqs, seqs.dropFirst()).contains { $1 - $0 > 1 }, "seqs have gaps")
            #expect(Set(ids) == Set(sim.packageNames) && ids.count == sim.packageNames.count)
            #expect(since == sim.updateSeq)
        }
    }

    @Test("limit defaults to 1000 and accepts 10000")
    func limits() async throws {
        try await withSimulator(packages: 1200) { sim in
            let first = try await HTTP.get(sim.replicateURL + "/registry/_changes").json()
            #expect((first["results"] as? [Any])?.count == 1000)
            let all = try await HTTP.get(sim.replicateURL + "/registry/_changes?limit=10000").json()
            #expect((all["results"] as? [Any])?.count == 1200)
        }
    }

    @Test(
        "unsupported parameters are 400 with {error, reason}",
        arguments: [
            "include_docs=true", "include_docs=false", "feed=continuous", "feed=longpoll", "feed=normal",
            "timeout=10000", "since=now", "since=-1", "since=abc", "limit=10001", "limit=0", "limit=x",
        ]
    )
    func badRequests(_ query: String) async throws {
        try await withSimulator(packages: 5) { sim in
            let response = try await HTTP.get(sim.replicateURL + "/registry/_changes?" + query)
            #expect(response.status == 400)
            let body = try response.json()
            #expect(Set(body.keys) == ["error", "reason"])
            #expect(body["error"] as? String == "bad_request")
        }
    }

    @Test("since past the head returns no results and last_seq = since")
    func sincePastHead() async throws {
        try await withSimulator(packages: 5) { sim in
            let since = sim.updateSeq + 500
            let page = try await HTTP.get(sim.replicateURL + "/registry/_changes?since=\(since)").json()
            #expect((page["results"] as? [Any])?.isEmpty == true)
            #expect(page["last_seq"] as? Int == since)
        }
    }

    @Test("the rev in _changes is the served packument's _rev")
    func revsMatch() async throws {
        try await withSimulator(packages: 20) { sim in
            let page = try await HTTP.get(sim.replicateURL + "/registry/_changes?limit=10000").json()
            for entry in try #require(page["results"] as? [[String: Any]]) where entry["deleted"] == nil {
                let id = try #require(entry["id"] as? String)
                let rev = (entry["changes"] as? [[String: Any]])?.first?["rev"] as? String
                let encoded = id.replacingOccurrences(of: "/", with: "%2F")
                let packument = try await HTTP.get(sim.registryURL + "/" + encoded).json()
                #expect(packument["_rev"] as? String == rev, "\(id)")
            }
        }
    }
}
