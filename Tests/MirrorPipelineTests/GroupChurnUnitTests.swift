import Foundation
import MirrorKafka
import Testing

@testable import MirrorPipeline

private func job(_ name: String, offset: Int64, partition: Int32) -> LaneJob {
    let change = ChangeMessage(seq: 1000 + offset, id: name, rev: "1-a", deleted: false, readAt: "2026-12-01T00:00:00.000Z")
    let message = KafkaConsumerMessage(topic: "t", partition: partition, offset: offset, key: Array(name.utf8), value: change.jsonBytes, timestampMilliseconds: nil)
    return LaneJob(message: message, change: change, decodingError: nil)
}

/// Takes everything the lane hands out now, finishing each, until it has nothing ready (it is closed
/// first, so an empty lane answers `.done` at once instead of waiting).
private func drain(_ queue: LaneQueue) async -> [(String, Int64)] {
    queue.close()
    var seen: [(String, Int64)] = []
    while case .run(let job, _) = await queue.next() {
        seen.append((job.change!.id, job.message.offset))
        queue.finished(job.message.key!)
    }
    return seen
}

@Suite("Group churn: revoked work leaves the lanes")
struct RevokedWorkTests {
    let p0 = KafkaTopicPartition(topic: "t", partition: 0)
    let p1 = KafkaTopicPartition(topic: "t", partition: 1)

    @Test("queued and parked changes of revoked partitions are dropped; the others' stay, in order")
    func dropsRevokedQueuedAndParked() async throws {
        let queue = LaneQueue(maxParked: 8)
        queue.push(job("a", offset: 0, partition: 0))
        queue.push(job("b", offset: 0, partition: 1))
        queue.push(job("c", offset: 1, partition: 0))
        queue.push(job("d", offset: 1, partition: 1))
        // "a" runs and is parked for an hour.
        guard case .run(let a, _) = await queue.next() else { Issue.record("nothing to run"); return }
        #expect(a.change?.id == "a")
        queue.park(a, until: .now + .seconds(3600))
        #expect(queue.parkedCount == 1)

        #expect(queue.drop(partitions: [p0]) == 2)
        #expect(queue.parkedCount == 0)
        let rest = await drain(queue)
        #expect(rest.map(\.0) == ["b", "d"])
    }

    @Test("the change being run stays until its worker reports; its package's queued changes of the revoked partition go")
    func runningStays() async throws {
        let queue = LaneQueue(maxParked: 8)
        queue.push(job("a", offset: 0, partition: 0))
        queue.push(job("a", offset: 1, partition: 0))
        guard case .run(let running, let superseded) = await queue.next() else { Issue.record("nothing to run"); return }
        #expect(running.message.offset == 0 && superseded)
        #expect(queue.running?.job.message.offset == 0)
        #expect(queue.drop(partitions: [p0]) == 1)
        #expect(!queue.hasLaterChange(of: Array("a".utf8)))
        queue.finished(running.message.key!)
        #expect(queue.running == nil)
        #expect(await drain(queue).isEmpty)
    }

    @Test("dropping a partition with nothing queued changes nothing")
    func nothingToDrop() async throws {
        let queue = LaneQueue(maxParked: 8)
        queue.push(job("a", offset: 0, partition: 1))
        #expect(queue.drop(partitions: [p0]) == 0)
        #expect(await drain(queue).map(\.0) == ["a"])
    }

    @Test("a partition revoked and assigned again is a new ownership: the old one's completions count for nothing")
    func epochs() {
        var tracker = OffsetTracker()
        tracker.received(p0, offset: 10, seq: 1)
        tracker.received(p0, offset: 11, seq: 2)
        let first = tracker.epoch(of: p0)
        tracker.completed(p0, offset: 10)
        // The revoke returns what is done and not committed: committed inside the rebalance.
        #expect(tracker.revoke([p0]) == [KafkaTopicPartitionOffset(topic: "t", partition: 0, offset: 10)])
        #expect(tracker.epoch(of: p0) == nil)
        #expect(tracker.inFlight == 0)
        // Assigned again: the next owner committed through 10, so 11 comes again.
        tracker.received(p0, offset: 11, seq: 2)
        let second = tracker.epoch(of: p0)
        #expect(first != nil && second != nil && first != second)
        tracker.completed(p0, offset: 11, epoch: first)
        #expect(tracker.committable().isEmpty, "the old ownership's attempt at 11 does not complete the new one's")
        tracker.completed(p0, offset: 11, epoch: second)
        #expect(tracker.committable() == [KafkaTopicPartitionOffset(topic: "t", partition: 0, offset: 11)])
    }
}

@Suite("Stall watchdog rule")
struct StallRuleTests {
    let start = ContinuousClock.now
    let timeout = Duration.seconds(900)

    private func observe(_ rule: inout StallRule, at seconds: Int, completed: Int = 0, assigned: Bool = true, lag: Int64? = 10, parked: Int = 0) -> StallRule.Decision {
        rule.observe(
            now: start + .seconds(seconds), lastCompleted: start + .seconds(completed), lastAssigned: start,
            assigned: assigned, lag: lag, parked: parked
        )
    }

    @Test("lag, partitions, nothing completed and nothing parked for the timeout: stalled")
    func stalls() {
        var rule = StallRule(timeout: timeout, start: start)
        #expect(observe(&rule, at: 899) == .fine)
        #expect(observe(&rule, at: 900) == .stalled(.seconds(900)))
    }

    @Test("a completed change restarts the clock")
    func completionRestarts() {
        var rule = StallRule(timeout: timeout, start: start)
        #expect(observe(&rule, at: 1000, completed: 500) == .fine)
        #expect(observe(&rule, at: 1400, completed: 500) == .stalled(.seconds(900)))
    }

    @Test("no lag, no partitions or a parked change (a legitimate, bounded wait) hold the clock; an unknown lag concludes nothing")
    func legitimateWaits() {
        var rule = StallRule(timeout: timeout, start: start)
        #expect(observe(&rule, at: 2000, lag: 0) == .fine)
        #expect(observe(&rule, at: 2800) == .fine, "800 s since the lag was last 0")
        #expect(observe(&rule, at: 2850, parked: 3) == .fine)
        #expect(observe(&rule, at: 3700) == .fine)
        #expect(observe(&rule, at: 3750) == .stalled(.seconds(900)))
        var unassigned = StallRule(timeout: timeout, start: start)
        #expect(observe(&unassigned, at: 5000, assigned: false) == .fine)
        var unknown = StallRule(timeout: timeout, start: start)
        #expect(observe(&unknown, at: 5000, lag: nil) == .fine)
        #expect(unknown.stalledFor(now: start + .seconds(5000)) == .seconds(5000))
    }
}

@Suite("Change result: one word for the metric label and the change record's outcome")
struct ChangeResultTests {
    @Test("a dead letter decides whatever was processed; otherwise what processing did; nothing processed is skipped")
    func decide() {
        #expect(ChangeResult.decide(processed: .stored, deadLettered: true) == .deadLettered)
        #expect(ChangeResult.decide(processed: nil, deadLettered: true) == .deadLettered)
        #expect(ChangeResult.decide(processed: .stored, deadLettered: false) == .stored)
        #expect(ChangeResult.decide(processed: .deleted, deadLettered: false) == .deleted)
        #expect(ChangeResult.decide(processed: .unpublished, deadLettered: false) == .unpublished)
        #expect(ChangeResult.decide(processed: .superseded, deadLettered: false) == .superseded)
        #expect(ChangeResult.decide(processed: .skipped, deadLettered: false) == .skipped)
        #expect(ChangeResult.decide(processed: nil, deadLettered: false) == .skipped)
        // The labels operators and the records see.
        #expect(ChangeResult.allCases.map(\.rawValue) == ["stored", "deleted", "unpublished", "skipped", "superseded", "dead_lettered"])
    }
}

@Suite("Supersession: the lane tells a running change, no polling")
struct SupersessionTests {
    @Test("a later change of the running package fires its event; another package's does not")
    func laneFires() async throws {
        let queue = LaneQueue(maxParked: 8)
        queue.push(job("a", offset: 0, partition: 0))
        guard case .run(let running, let superseded) = await queue.next() else { Issue.record("nothing to run"); return }
        #expect(!superseded)
        let event = queue.supersession(of: running.message.key!)
        #expect(!event.hasHappened)
        queue.push(job("b", offset: 1, partition: 0))
        #expect(!event.hasHappened)
        let waiter = Task { await event.wait() }
        queue.push(job("a", offset: 2, partition: 0))
        await waiter.value
        #expect(event.hasHappened)
        #expect(await event.sleep(for: .seconds(3600)), "a fired event ends a sleep at once")
    }

    @Test("a wait ends when its task is cancelled, and a sleep when its time is up")
    func cancellation() async {
        let event = Supersession()
        let waiter = Task { await event.wait() }
        waiter.cancel()
        await waiter.value
        #expect(!event.hasHappened)
        #expect(await event.sleep(for: .milliseconds(50)) == false)
    }
}
