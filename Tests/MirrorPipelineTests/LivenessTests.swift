import AsyncHTTPClient
import Logging
import MirrorKafka
import MirrorTestSupport
import NPMRegistry
import Prometheus
import RegistrySimulator
import Synchronization
import Testing

@testable import MirrorPipeline

private func job(_ name: String, offset: Int64, partition: Int32 = 0) -> LaneJob {
    let change = ChangeMessage(seq: 1000 + offset, id: name, rev: "1-a", deleted: false, readAt: "2026-12-01T00:00:00.000Z")
    let message = KafkaConsumerMessage(topic: "t", partition: partition, offset: offset, key: Array(name.utf8), value: change.jsonBytes, timestampMilliseconds: nil)
    return LaneJob(message: message, change: change, decodingError: nil)
}

/// The next work item, or a failure when none comes within a generous limit (never a timing assertion:
/// the limit only keeps a broken queue from hanging the suite).
private func next(_ queue: LaneQueue) async throws -> (LaneJob, Bool)? {
    try await withThrowingTaskGroup(of: LaneQueue.Work?.self) { group in
        group.addTask { await queue.next() }
        group.addTask {
            try await Task.sleep(for: .seconds(20))
            return nil
        }
        let work = try await group.next()!
        group.cancelAll()
        switch try #require(work, "the lane queue handed out nothing") {
        case .run(let job, let superseded): return (job, superseded)
        case .done: return nil
        }
    }
}

@Suite("Lane queue: supersession and parking")
struct LaneQueueTests {
    @Test("a change is superseded by a later change of its package already received; never across packages, never the latest")
    func supersession() async throws {
        let queue = LaneQueue(maxParked: 8)
        queue.push(job("a", offset: 0))
        queue.push(job("b", offset: 1))
        queue.push(job("a", offset: 2))
        queue.close()

        var seen: [(String, Int64, Bool)] = []
        while let (job, superseded) = try await next(queue) {
            seen.append((job.change!.id, job.message.offset, superseded))
            queue.finished(job.message.key!)
        }
        #expect(seen.map(\.0) == ["a", "b", "a"])
        #expect(seen.map(\.1) == [0, 1, 2])
        // Only the earlier change of "a"; "b" has no later change, and the last "a" is the latest.
        #expect(seen.map(\.2) == [true, false, false])
    }

    @Test("a parked change lets other packages through, holds its own later changes back, and is woken as superseded when one arrives")
    func parking() async throws {
        let queue = LaneQueue(maxParked: 8)
        queue.push(job("a", offset: 0))
        queue.push(job("b", offset: 1))

        let (first, firstSuperseded) = try #require(try await next(queue))
        #expect(first.change?.id == "a" && !firstSuperseded)
        queue.park(first, until: .now + .seconds(3600))
        #expect(queue.parkedCount == 1)

        // The lane goes on with the other package.
        let (second, _) = try #require(try await next(queue))
        #expect(second.change?.id == "b")
        queue.finished(second.message.key!)
        queue.push(job("c", offset: 2))
        let (third, _) = try #require(try await next(queue))
        #expect(third.change?.id == "c")
        queue.finished(third.message.key!)

        // A later change of "a" arrives: the parked one runs at once, superseded; then the later one.
        queue.push(job("a", offset: 3))
        let (woken, wokenSuperseded) = try #require(try await next(queue))
        #expect(woken.message.offset == 0 && wokenSuperseded)
        #expect(queue.parkedCount == 0)
        queue.finished(woken.message.key!)
        let (latest, latestSuperseded) = try #require(try await next(queue))
        #expect(latest.message.offset == 3 && !latestSuperseded)
        queue.finished(latest.message.key!)
        queue.close()
        #expect(try await next(queue) == nil)
    }

    @Test("a parked change runs again once its backoff is over, and its package's later changes wait for it")
    func backoffEnds() async throws {
        let queue = LaneQueue(maxParked: 8)
        queue.push(job("a", offset: 0))
        let (first, _) = try #require(try await next(queue))
        queue.park(first, until: .now + .milliseconds(200))
        let (again, superseded) = try #require(try await next(queue))
        #expect(again.message.offset == 0 && !superseded)
        #expect(queue.parkedCount == 0)
        #expect(!queue.hasLaterChange(of: Array("a".utf8)))
        queue.push(job("a", offset: 1))
        #expect(queue.hasLaterChange(of: Array("a".utf8)))
    }

    @Test("parked changes are bounded; abandoning drops what has not started")
    func boundAndAbandon() async throws {
        let queue = LaneQueue(maxParked: 1)
        queue.push(job("a", offset: 0))
        queue.push(job("b", offset: 1))
        let (first, _) = try #require(try await next(queue))
        #expect(queue.canPark)
        queue.park(first, until: .now + .seconds(3600))
        #expect(!queue.canPark)
        #expect(queue.abandon() == 2)
        #expect(try await next(queue) == nil)
    }
}

@Suite("Offsets never pass a parked change")
struct ParkedOffsetTests {
    @Test("other packages complete while one is parked; the partition commits only up to the parked offset")
    func commitsHoldAtParked() async throws {
        var tracker = OffsetTracker()
        let partition = KafkaTopicPartition(topic: "t", partition: 0)
        let queue = LaneQueue(maxParked: 8)
        for (offset, name) in ["stuck", "b", "c", "d"].enumerated() {
            tracker.received(partition, offset: Int64(offset), seq: Int64(offset))
            queue.push(job(name, offset: Int64(offset)))
        }
        let (stuck, _) = try #require(try await next(queue))
        queue.park(stuck, until: .now + .seconds(3600))
        for _ in 0..<3 {
            let (other, _) = try #require(try await next(queue))
            tracker.completed(partition, offset: other.message.offset)
            queue.finished(other.message.key!)
        }
        #expect(tracker.committable().isEmpty, "nothing is committable while offset 0 is parked")
        #expect(tracker.inFlight == 1)
        tracker.completed(partition, offset: 0)
        #expect(tracker.committable().map(\.offset) == [3])
    }
}

@Suite("Idle rule: the whole group, not this member")
struct IdleRuleTests {
    let start = ContinuousClock.now

    func positions(_ entries: [(committed: Int64?, high: Int64)]) -> [KafkaGroupPosition] {
        entries.enumerated().map { index, entry in
            KafkaGroupPosition(partition: KafkaTopicPartition(topic: "t", partition: Int32(index)), committed: entry.committed, watermarks: KafkaWatermarks(low: 0, high: entry.high))
        }
    }

    @Test("an empty assignment while the group has not drained the topic is not idle; without progress it gives up after the bound")
    func emptyAssignment() {
        var rule = IdleRule(idle: .seconds(10), waitBound: .seconds(145))
        let undrained = positions([(nil, 40), (12, 12)])
        #expect(rule.observe(now: start, busy: false, positions: undrained) == .keepGoing)
        #expect(rule.observe(now: start + .seconds(144), busy: false, positions: undrained) == .keepGoing)
        guard case .giveUp(let reason) = rule.observe(now: start + .seconds(146), busy: false, positions: undrained) else {
            Issue.record("expected the rule to give up")
            return
        }
        #expect(reason.contains("t[0] committed nothing of 40"))
    }

    @Test("a partial assignment: progress of the group resets the wait; drained and quiet for the idle time stops")
    func partialThenDrained() {
        var rule = IdleRule(idle: .seconds(10), waitBound: .seconds(60))
        #expect(rule.observe(now: start, busy: false, positions: positions([(5, 40), (12, 12)])) == .keepGoing)
        // Another member makes progress: the wait starts again.
        #expect(rule.observe(now: start + .seconds(50), busy: false, positions: positions([(30, 40), (12, 12)])) == .keepGoing)
        #expect(rule.observe(now: start + .seconds(100), busy: false, positions: positions([(35, 40), (12, 12)])) == .keepGoing)
        // This member is busy: never idle.
        #expect(rule.observe(now: start + .seconds(200), busy: true, positions: nil) == .keepGoing)
        // Drained: idle only after the idle time.
        #expect(rule.observe(now: start + .seconds(201), busy: false, positions: positions([(40, 40), (12, 12)])) == .keepGoing)
        #expect(rule.observe(now: start + .seconds(209), busy: false, positions: positions([(40, 40), (12, 12)])) == .keepGoing)
        #expect(rule.observe(now: start + .seconds(212), busy: false, positions: positions([(40, 40), (12, 12)])) == .stop)
    }

    @Test("a drained group with a new message is no longer idle; an unreadable broker is never idle")
    func newMessagesAndUnreadable() {
        var rule = IdleRule(idle: .seconds(5), waitBound: .seconds(60))
        #expect(rule.observe(now: start, busy: false, positions: positions([(10, 10)])) == .keepGoing)
        #expect(rule.observe(now: start + .seconds(4), busy: false, positions: positions([(10, 11)])) == .keepGoing)
        #expect(rule.observe(now: start + .seconds(20), busy: false, positions: nil) == .keepGoing)
        #expect(rule.observe(now: start + .seconds(21), busy: false, positions: positions([(11, 11)])) == .keepGoing)
        #expect(rule.observe(now: start + .seconds(27), busy: false, positions: positions([(11, 11)])) == .stop)
    }
}

@Suite("One committer")
struct OffsetCommitterTests {
    @Test("commits asked for by several tasks run one at a time, in order: the committed offset never goes backwards")
    func serialised() async throws {
        let state = ConsumerState()
        let partition = KafkaTopicPartition(topic: "t", partition: 0)
        struct Log { var running = 0; var mostAtOnce = 0; var offsets: [Int64] = [] }
        /// A slow coordinator: without one committer a second commit would overlap this one.
        final class SlowCoordinator: OffsetCommitTarget {
            let log = Mutex(Log())
            func commit(processedThrough positions: [KafkaTopicPartitionOffset]) async throws {
                log.withLock { $0.running += 1; $0.mostAtOnce = max($0.mostAtOnce, $0.running) }
                try await Task.sleep(for: .milliseconds(50))
                log.withLock { $0.running -= 1; $0.offsets += positions.map(\.offset) }
            }
        }
        let coordinator = SlowCoordinator()
        let committer = OffsetCommitter(
            state: state, group: coordinator, lanes: [], checkpoints: nil, metrics: nil, logger: Logger(label: "test"))
        let runner = Task { await committer.run() }
        await withTaskGroup(of: Void.self) { group in
            for offset in Int64(0)..<40 {
                _ = state.received(KafkaConsumerMessage(topic: "t", partition: 0, offset: offset, key: nil, value: [], timestampMilliseconds: nil), seq: offset)
                state.completed(partition, offset: offset, value: nil, seq: offset)
                group.addTask { await committer.commitDone() }
                try? await Task.sleep(for: .milliseconds(5))
            }
        }
        committer.finish()
        await runner.value
        let result = coordinator.log.withLock { $0 }
        #expect(result.offsets.count >= 2, "the slow coordinator saw only one commit: the test proved nothing")
        #expect(result.mostAtOnce == 1)
        #expect(result.offsets == result.offsets.sorted())
        #expect(result.offsets.last == 39)
    }
}

@Suite("The replica-lag wait survives transient faults")
struct PackumentWaitTests {
    func wait(_ simulator: RegistrySimulator, for duration: Duration) -> PackumentWait {
        let factory = PrometheusMetricsFactory(registry: PrometheusCollectorRegistry())
        // A read timeout far beyond the waits below: a loaded machine slows a read, and a read that times
        // out before the wait has begun is (rightly) a retriable failure, which these tests are not about.
        let client = PackageClient(registryURL: simulator.registryURL, http: RegistryHTTP(client: .shared, timeout: .seconds(60), metrics: factory))
        return PackumentWait(packages: client, maxBytes: 1 << 26, wait: duration, retryMax: .milliseconds(300), metrics: ConsumerMetrics(factory: factory), logger: testLogger)
    }

    @Test("a lagging replica with 429s and 500s during the wait: the wait keeps its deadline and ends with what it saw (stale)")
    func lagWithFaults() async throws {
        try await withSimulator(packages: 5) { simulator in
            let name = try #require(simulator.notablePackages.ordinary.first)
            // The first read succeeds (an older revision: the wait begins); the next two answer 500, the
            // one after 429 with Retry-After; the reads after that show the older revision again.
            simulator.faults.add([
                FaultRule(kind: .httpError, targets: [.packument], count: 2, skip: 1, status: 500),
                FaultRule(kind: .rateLimited, targets: [.packument], count: 1, skip: 1, retryAfterSeconds: 1),
            ])
            let change = ChangeMessage(seq: 1, id: name, rev: "999-ffff", deleted: false, readAt: "")
            // A long wait: on a loaded machine one read can take seconds, and each fault needs a read.
            let found = try await wait(simulator, for: .seconds(20)).fetch(change, supersession: .never)
            guard case .packument(_, _, let stale) = found else {
                Issue.record("expected the packument, got \(found)")
                return
            }
            #expect(stale)
            #expect(simulator.faults.firedCounts.values.reduce(0, +) >= 1, "no fault fired during the wait, so it proved nothing")
        }
    }

    @Test("a missing package with faults during the wait ends with packument_not_found, not a retriable failure")
    func missingWithFaults() async throws {
        try await withSimulator(packages: 5) { simulator in
            // The first read is a 404 (the wait begins); the next two answer 503; then 404 again.
            simulator.faults.add([FaultRule(kind: .httpError, targets: [.packument], count: 2, skip: 1, status: 503)])
            let change = ChangeMessage(seq: 1, id: "not-there-yet", rev: "1-a", deleted: false, readAt: "")
            do throws(ProcessingFailure) {
                _ = try await wait(simulator, for: .seconds(20)).fetch(change, supersession: .never)
                Issue.record("a missing package was found")
            } catch {
                #expect(error.code == .packumentNotFound)
                #expect(!error.isRetriable)
            }
            #expect(simulator.faults.firedCounts.values.reduce(0, +) >= 1, "no fault fired during the wait, so it proved nothing")
        }
    }

    @Test("the wait ends as soon as a later change of the package has arrived")
    func supersededWhileWaiting() async throws {
        try await withSimulator(packages: 5) { simulator in
            let arrived = Supersession()
            Task {
                // Fired once the wait is under way (the first read answered), not before it began.
                let deadline = ContinuousClock.now + .seconds(30)
                while simulator.requestTotal == 0, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
                arrived.fire()
            }
            let change = ChangeMessage(seq: 1, id: "created-then-deleted", rev: "1-a", deleted: false, readAt: "")
            let started = ContinuousClock.now
            let found = try await wait(simulator, for: .seconds(120)).fetch(change, supersession: arrived)
            // The event ends the wait, not a poll: well inside the 120 s wait (not a timing assertion).
            #expect(ContinuousClock.now - started < .seconds(60))
            guard case .superseded = found else {
                Issue.record("expected superseded, got \(found)")
                return
            }
        }
    }
}

@Suite("Lane queue and cancellation")
struct LaneQueueCancellationTests {
    @Test("a lane waiting for work ends when its task is cancelled (its waits return at once, so it must not wait again)")
    func cancelledWhileWaiting() async throws {
        let queue = LaneQueue(maxParked: 8)
        let worker = Task { await queue.next() }
        // Cancelled only once it waits: before that, the claim is not tested.
        let deadline = ContinuousClock.now + .seconds(30)
        while !queue.isWaiting, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(5)) }
        try #require(queue.isWaiting, "the lane never waited for work")
        worker.cancel()
        let ended = await withTaskGroup(of: Bool.self) { group in
            group.addTask {
                if case .done = await worker.value { return true }
                return false
            }
            group.addTask {
                try? await Task.sleep(for: .seconds(20))
                return false
            }
            let first = await group.next()!
            group.cancelAll()
            return first
        }
        #expect(ended, "the cancelled lane kept waiting (spinning) instead of ending")
        // Unblock a still-spinning worker so the test process can end.
        queue.abandon()
    }
}
