import Foundation
import MirrorConfig
import MirrorPipeline
import MirrorRuntime
import MirrorTestSupport
import NPMRegistry
import MirrorStore
import Testing

private let fixtures = recordedFixture("npm-recorded")

@Suite("Feed parsing")
struct ChangesPageTests {
    @Test("the recorded pages parse: seqs, ids, revs, last_seq")
    func recordedPages() throws {
        let page1 = try ChangesPage.parse(Array(Data(contentsOf: fixtures.appendingPathComponent("changes-page1.json"))), since: 0)
        let page2 = try ChangesPage.parse(Array(Data(contentsOf: fixtures.appendingPathComponent("changes-page2.json"))), since: page1.lastSeq)
        #expect(page1.changes.map(\.seq) == [1, 2])
        #expect(page2.changes.map(\.seq) == [3, 4])
        #expect(page2.lastSeq == 4)
        #expect((page1.changes + page2.changes).allSatisfy { !$0.id.isEmpty && $0.rev?.contains("-") == true })
        #expect(page1.skipped.isEmpty)
    }

    @Test("results without id or seq, or of the wrong type, are set aside; the rest of the page is kept")
    func badResults() throws {
        let body = #"{"results":[{"seq":5,"id":"ok","changes":[{"rev":"1-a"}]},{"seq":6},{"id":"no-seq"},{"seq":"x","id":"bad"},7,{"seq":8,"id":"gone","deleted":true,"changes":[]}],"last_seq":8}"#
        let page = try ChangesPage.parse(Array(body.utf8), since: 4)
        #expect(page.changes == [FeedChange(seq: 5, id: "ok", rev: "1-a", deleted: false), FeedChange(seq: 8, id: "gone", rev: nil, deleted: true)])
        #expect(page.skipped.map(\.reason) == ["missing_id", "missing_seq", "missing_seq", "not_an_object"])
        #expect(page.lastSeq == 8)
    }

    @Test(
        "a page that is not the expected JSON is an error",
        arguments: ["", "not json", "[]", #"{"last_seq": 3}"#, #"{"results": {}}"#, #"{"results": [1,"#]
    )
    func malformedPage(body: String) {
        #expect(throws: PageParseError.self) { try ChangesPage.parse(Array(body.utf8), since: 0) }
    }

    @Test("deeply nested and huge values do not crash the parser")
    func hostileJSON() throws {
        let deep = String(repeating: "[", count: 10_000) + String(repeating: "]", count: 10_000)
        #expect(throws: PageParseError.self) { try ChangesPage.parse(Array(deep.utf8), since: 0) }
        let huge = #"{"results":[{"seq":1,"id":""# + String(repeating: "a", count: 1_000_000) + #""}],"last_seq":1}"#
        #expect(try ChangesPage.parse(Array(huge.utf8), since: 0).changes.first?.id.count == 1_000_000)
        let duplicate = #"{"results":[{"seq":1,"seq":2,"id":"dup"}],"last_seq":2}"#
        #expect(try ChangesPage.parse(Array(duplicate.utf8), since: 0).changes.count == 1)
    }

    @Test("the change message round-trips through its hand-written JSON, awkward names included")
    func changeMessageJSON() throws {
        for id in ["@scope/name", "quote\"back\\slash", "new\nline\u{01}", "ünïcödé", ""] {
            let message = ChangeMessage(seq: 42, id: id, rev: id.isEmpty ? nil : "3-abc", deleted: id.isEmpty, readAt: "2026-11-23T19:00:00.000Z")
            #expect(try ChangeMessage.decode(message.jsonBytes) == message)
        }
    }
}

@Suite("Lag watchdog policy")
struct LagWatchdogPolicyTests {
    let start = ContinuousClock.now

    @Test("lag above initial + threshold restarts; the initial lag is measured again afterwards")
    func lagGrowth() {
        var policy = LagWatchdogPolicy(threshold: 200, stallChecks: 100, maxRestarts: 5, window: .seconds(600))
        #expect(policy.check(updateSeq: 1000, acknowledged: 900, now: start) == .healthy)
        #expect(policy.initialLag == 100)
        #expect(policy.check(updateSeq: 1250, acknowledged: 950, now: start) == .healthy)  // lag 300 = initial + 200
        guard case .restart = policy.check(updateSeq: 1400, acknowledged: 1000, now: start) else {
            Issue.record("lag 400 > 100 + 200 should restart")
            return
        }
        #expect(policy.initialLag == nil)
        #expect(policy.check(updateSeq: 1500, acknowledged: 1000, now: start) == .healthy)
        #expect(policy.initialLag == 500)
    }

    @Test("a falling lag ratchets the initial lag down")
    func ratchet() {
        var policy = LagWatchdogPolicy(threshold: 200, stallChecks: 100, maxRestarts: 5, window: .seconds(600))
        _ = policy.check(updateSeq: 10_000, acknowledged: 0, now: start)
        _ = policy.check(updateSeq: 10_000, acknowledged: 9_000, now: start)
        #expect(policy.initialLag == 1_000)
        _ = policy.check(updateSeq: 10_000, acknowledged: 9_900, now: start)  // lag 100 is not below 1000 - 200? it is
        #expect(policy.initialLag == 100)
        // Now a lag of 350 (> 100 + 200) restarts.
        guard case .restart = policy.check(updateSeq: 10_350, acknowledged: 10_000, now: start) else {
            Issue.record("expected a restart after the ratchet")
            return
        }
    }

    @Test("an acknowledged seq stuck while update_seq moves restarts after N checks")
    func stall() {
        var policy = LagWatchdogPolicy(threshold: 1_000_000, stallChecks: 3, maxRestarts: 5, window: .seconds(600))
        #expect(policy.check(updateSeq: 100, acknowledged: 50, now: start) == .healthy)
        #expect(policy.check(updateSeq: 101, acknowledged: 50, now: start) == .healthy)
        #expect(policy.check(updateSeq: 102, acknowledged: 50, now: start) == .healthy)
        guard case .restart = policy.check(updateSeq: 103, acknowledged: 50, now: start) else {
            Issue.record("3 stalled checks should restart")
            return
        }
        // A quiet registry (update_seq not moving) is not a stall.
        var quiet = LagWatchdogPolicy(threshold: 1_000_000, stallChecks: 2, maxRestarts: 5, window: .seconds(600))
        for _ in 0..<10 { #expect(quiet.check(updateSeq: 100, acknowledged: 100, now: start) == .healthy) }
    }

    @Test("more than maxRestarts within the window gives up; older restarts age out")
    func givesUp() {
        var policy = LagWatchdogPolicy(threshold: 10, stallChecks: 100, maxRestarts: 2, window: .seconds(60))
        func lagSpike(at time: ContinuousClock.Instant) -> LagWatchdogPolicy.Verdict {
            _ = policy.check(updateSeq: 100, acknowledged: 100, now: time)
            return policy.check(updateSeq: 200, acknowledged: 100, now: time)
        }
        guard case .restart = lagSpike(at: start) else { Issue.record("first"); return }
        guard case .restart = lagSpike(at: start + .seconds(10)) else { Issue.record("second"); return }
        guard case .giveUp = lagSpike(at: start + .seconds(20)) else { Issue.record("third should give up"); return }
        var aging = LagWatchdogPolicy(threshold: 10, stallChecks: 100, maxRestarts: 2, window: .seconds(60))
        for minute in 0..<5 {
            let time = start + .seconds(minute * 61)
            _ = aging.check(updateSeq: 100, acknowledged: 100, now: time)
            guard case .restart = aging.check(updateSeq: 200, acknowledged: 100, now: time) else {
                Issue.record("restarts a minute apart should not give up")
                return
            }
        }
    }
}

@Suite("Resume rule")
struct ResumePointTests {
    @Test("the higher of topic and checkpoint; else the configured seq; else the registry head")
    func resumeRule() async throws {
        let head: () async throws -> Int64 = { 999 }
        var point = try await ResumePoint.resolve(topicSeq: 10, checkpoint: .init(updateSeq: 12, feedReset: nil), configured: .seq(1), registryHead: head)
        #expect(point.seq == 12 && point.source == .checkpoint)
        point = try await ResumePoint.resolve(topicSeq: 15, checkpoint: .init(updateSeq: 12, feedReset: nil), configured: .seq(1), registryHead: head)
        #expect(point.seq == 15 && point.source == .topic)
        point = try await ResumePoint.resolve(topicSeq: nil, checkpoint: nil, configured: .seq(7), registryHead: head)
        #expect(point.seq == 7 && point.source == .configuredSeq)
        point = try await ResumePoint.resolve(topicSeq: nil, checkpoint: nil, configured: .now, registryHead: head)
        #expect(point.seq == 999 && point.source == .registryHead)
        point = try await ResumePoint.resolve(topicSeq: 500, checkpoint: .init(updateSeq: 20, feedReset: true), configured: .now, registryHead: head)
        #expect(point.seq == 20 && point.feedReset)
    }

    @Test("Retry-After in seconds and as an HTTP date; backoff grows, is capped, and honours Retry-After")
    func backoff() {
        var backoff = Backoff(base: .milliseconds(100), cap: .seconds(1), seed: 1)
        let waits = (0..<8).map { _ in backoff.next() }
        #expect(waits.allSatisfy { $0 >= .milliseconds(50) && $0 <= .seconds(1) })
        #expect(waits.last! >= .milliseconds(500))
        #expect(backoff.next(retryAfter: .seconds(5)) == .seconds(5))
        backoff.reset()
        #expect(backoff.next() <= .milliseconds(100))
    }
}
