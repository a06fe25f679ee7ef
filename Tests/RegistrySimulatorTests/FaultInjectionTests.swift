import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import RegistrySimulator
import Testing

@Suite("Fault injection")
struct FaultInjectionTests {
    @Test("429 with Retry-After, for the next N requests only")
    func rateLimited() async throws {
        try await withSimulator({ $0.faults = [FaultRule(kind: .rateLimited, targets: [.changes], count: 2, retryAfterSeconds: 3)] }) { sim in
            for _ in 0..<2 {
                let limited = try await HTTP.get(sim.replicateURL + "/registry/_changes")
                #expect(limited.status == 429)
                #expect(limited.headers.first(name: "retry-after") == "3")
                #expect(Set(try limited.json().keys) == ["error", "reason"])
            }
            #expect(try await HTTP.get(sim.replicateURL + "/registry/_changes").status == 200)
            #expect(try await HTTP.get(sim.replicateURL + "/").status == 200, "other targets are untouched")
            #expect(sim.requestCounts.faults["rate-limited"] == 2)
            #expect(sim.faults.rules.isEmpty, "a rule whose count is used up is removed")
        }
    }

    @Test("5xx statuses", arguments: [500, 502, 503])
    func serverErrors(_ status: Int) async throws {
        try await withSimulator { sim in
            sim.faults.add(FaultRule(kind: .httpError, targets: [.packument], count: 1, status: status))
            let name = try #require(sim.notablePackages.ordinary.first)
            #expect(try await HTTP.get(sim.registryURL + "/" + name).status == status)
            #expect(try await HTTP.get(sim.registryURL + "/" + name).status == 200)
            #expect(sim.requestCounts.statuses[String(status)] == 1)
        }
    }

    @Test("slow responses arrive late but intact")
    func slow() async throws {
        try await withSimulator { sim in
            sim.faults.add(FaultRule(kind: .slowResponse, targets: [.root], count: 1, delayMilliseconds: 300))
            let clock = ContinuousClock()
            let start = clock.now
            let response = try await HTTP.get(sim.replicateURL + "/")
            let elapsed = clock.now - start
            print("slow response took \(elapsed)")
            #expect(response.status == 200)
            #expect(elapsed >= .milliseconds(300))
            _ = try response.json()

            // With bytesPerSecond the body trickles out.
            sim.faults.add(FaultRule(kind: .slowResponse, targets: [.changes], count: 1, delayMilliseconds: 0, bytesPerSecond: 20_000))
            let trickled = try await HTTP.get(sim.replicateURL + "/registry/_changes?limit=100")
            #expect(trickled.status == 200)
            _ = try trickled.json()
        }
    }

    private func tarballURL(_ sim: RegistrySimulator) async throws -> (url: String, dist: [String: Any]) {
        let name = try #require(sim.notablePackages.ordinary.first)
        let packument = try await HTTP.get(sim.registryURL + "/" + name).json()
        let versions = try #require(packument["versions"] as? [String: [String: Any]])
        let dist = try #require(versions.values.first?["dist"] as? [String: Any])
        return (try #require(dist["tarball"] as? String), dist)
    }

    @Test("connections closed mid-body fail the download")
    func closeMidBody() async throws {
        try await withSimulator { sim in
            let (url, _) = try await self.tarballURL(sim)
            sim.faults.add(FaultRule(kind: .closeMidBody, targets: [.tarball], count: 1))
            await #expect(throws: (any Error).self) { _ = try await HTTP.get(url) }
            #expect(try await HTTP.get(url).status == 200)
        }
    }

    @Test("truncated bodies announce the full Content-Length, then close")
    func truncated() async throws {
        try await withSimulator { sim in
            let (url, dist) = try await self.tarballURL(sim)
            let size = try await HTTP.get(url).body.readableBytes
            sim.faults.add(FaultRule(kind: .truncatedBody, targets: [.tarball], count: 1))
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: url), timeout: .seconds(30))
            #expect(response.headers.first(name: "content-length") == String(size))
            var received = 0
            await #expect(throws: (any Error).self) {
                for try await chunk in response.body { received += chunk.readableBytes }
            }
            #expect(received < size)
            #expect(dist["integrity"] != nil)
        }
    }

    @Test("corrupt tarballs have the right length but not the right integrity")
    func corruptTarball() async throws {
        try await withSimulator { sim in
            let (url, dist) = try await self.tarballURL(sim)
            sim.faults.add(FaultRule(kind: .corruptTarball, targets: [.tarball], count: 1))
            let corrupt = try await HTTP.get(url)
            let good = try await HTTP.get(url)
            #expect(corrupt.status == 200 && corrupt.bytes.count == good.bytes.count)
            #expect(Digest.integrity(corrupt.bytes) != dist["integrity"] as? String)
            #expect(Digest.integrity(good.bytes) == dist["integrity"] as? String)
        }
    }

    @Test("malformed JSON keeps a correct Content-Length but does not parse")
    func malformedJSON() async throws {
        try await withSimulator { sim in
            sim.faults.add(FaultRule(kind: .malformedJSON, targets: [.changes, .packument], count: 2))
            let changes = try await HTTP.get(sim.replicateURL + "/registry/_changes")
            #expect(changes.status == 200)
            #expect(changes.headers.first(name: "content-length") == String(changes.body.readableBytes))
            #expect(throws: (any Error).self) { _ = try changes.json() }
            let name = try #require(sim.notablePackages.ordinary.first)
            let broken = try await HTTP.get(sim.registryURL + "/" + name)
            #expect(throws: (any Error).self) { _ = try broken.json() }
            let packument = try await HTTP.get(sim.registryURL + "/" + name)
            _ = try packument.json()
        }
    }

    @Test("huge bodies stay valid JSON")
    func hugeBody() async throws {
        try await withSimulator { sim in
            let normal = try await HTTP.get(sim.replicateURL + "/registry/_changes").json()
            sim.faults.add(FaultRule(kind: .hugeBody, targets: [.changes], count: 1, bodyBytes: 8 << 20))
            let huge = try await HTTP.get(sim.replicateURL + "/registry/_changes")
            #expect(huge.body.readableBytes >= 8 << 20)
            let parsed = try huge.json()
            #expect(parsed["last_seq"] as? Int == normal["last_seq"] as? Int)
        }
    }

    @Test("a seq reset makes the feed jump backwards")
    func seqReset() async throws {
        try await withSimulator { sim in
            let head = sim.updateSeq
            sim.faults.add(FaultRule(kind: .seqReset, targets: [.changes], count: 1))
            let page = try await HTTP.get(sim.replicateURL + "/registry/_changes?limit=10000").json()
            let seqs = try #require(page["results"] as? [[String: Any]]).compactMap { $0["seq"] as? Int }
            #expect(seqs.first == 1)
            let newHead = try await HTTP.get(sim.replicateURL + "/").json()["update_seq"] as? Int ?? .max
            #expect(newHead < head)
            let later = try #require(try sim.publish(.newVersion()))
            #expect(later.seq < head, "changes after the reset get seqs lower than before")
            // A follower still at the old head sees nothing (since is past the head).
            let stale = try await HTTP.get(sim.replicateURL + "/registry/_changes?since=\(head)").json()
            #expect((stale["results"] as? [Any])?.isEmpty == true && stale["last_seq"] as? Int == head)
        }
    }

    @Test("a stalled feed: update_seq advances, _changes returns nothing new")
    func stalledFeed() async throws {
        try await withSimulator { sim in
            let head = sim.updateSeq
            sim.faults.stallFeed()
            try sim.advance(by: 5)
            let root = try await HTTP.get(sim.replicateURL + "/").json()
            #expect((root["update_seq"] as? Int ?? 0) > head)
            let page = try await HTTP.get(sim.replicateURL + "/registry/_changes?since=\(head)").json()
            #expect((page["results"] as? [Any])?.isEmpty == true)
            #expect(page["last_seq"] as? Int == head)
            sim.faults.stallFeed(false)
            let resumed = try await HTTP.get(sim.replicateURL + "/registry/_changes?since=\(head)").json()
            #expect(!((resumed["results"] as? [Any])?.isEmpty ?? true))
        }
    }

    @Test("skip and path targeting: only the second download of one package fails")
    func skipAndPath() async throws {
        try await withSimulator { sim in
            let (url, _) = try await self.tarballURL(sim)
            let path = String(url.dropFirst(sim.registryURL.count))
            sim.faults.add(FaultRule(kind: .httpError, targets: [.tarball], pathPrefix: path, count: 1, skip: 1, status: 503))
            let other = try #require(sim.notablePackages.scoped.first)
            #expect(try await HTTP.get(sim.registryURL + "/" + other).status == 200)
            #expect(try await HTTP.get(url).status == 200)
            #expect(try await HTTP.get(url).status == 503)
            #expect(try await HTTP.get(url).status == 200)
            #expect(sim.requestCounts.count(path: path) == 3)
        }
    }

    @Test("probabilistic faults repeat with the same seed")
    func seededProbability() async throws {
        func pattern(faultSeed: UInt64) async throws -> [Int] {
            try await withSimulator({
                $0.faultSeed = faultSeed
                $0.faults = [FaultRule(kind: .httpError, targets: [.root], probability: 0.5)]
            }) { sim in
                var statuses: [Int] = []
                for _ in 0..<40 { statuses.append(try await HTTP.get(sim.replicateURL + "/").status) }
                return statuses
            }
        }
        let first = try await pattern(faultSeed: 5)
        #expect(first == (try await pattern(faultSeed: 5)))
        #expect(first.contains(200) && first.contains(500))
        #expect(first != (try await pattern(faultSeed: 6)))
    }

    @Test("command-line fault specs")
    func specs() throws {
        let rule = try FaultRule(spec: "http-error@tarball+packument,status=503,probability=0.25,count=4,skip=1,path=/foo")
        #expect(rule.kind == .httpError && rule.targets == [.tarball, .packument])
        #expect(rule.status == 503 && rule.probability == 0.25 && rule.count == 4 && rule.skip == 1 && rule.pathPrefix == "/foo")
        let limited = try FaultRule(spec: "rate-limited@changes,retry-after=7")
        #expect(limited.retryAfterSeconds == 7 && limited.count == nil)
        #expect(try FaultRule(spec: "slow,delay-ms=10,bytes-per-second=100").targets.isEmpty)
        for bad in ["", "nonsense", "http-error@nowhere", "http-error,status=200", "slow,delay-ms=x", "slow,probability=2", "slow,what=1"] {
            #expect(throws: RegistrySimulatorError.self, "\(bad)") { _ = try FaultRule(spec: bad) }
        }
    }
}
