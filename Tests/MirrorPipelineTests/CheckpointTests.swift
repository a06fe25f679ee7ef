import Dispatch
import Foundation
import MirrorTestSupport
import Synchronization
import Testing
import MirrorStore

@testable import MirrorPipeline

/// Holds every caller of ``wait()`` until ``open()``.
private final class Gate: Sendable {
    private struct State {
        var isOpen = false
        var waiting = 0
    }
    private let state = Mutex(State())
    private let semaphore = DispatchSemaphore(value: 0)

    /// How many callers have entered ``wait()`` so far.
    var waiting: Int { state.withLock { $0.waiting } }
    var isOpen: Bool { state.withLock { $0.isOpen } }

    func wait() {
        let mustWait = state.withLock { state -> Bool in
            if state.isOpen { return false }
            state.waiting += 1
            return true
        }
        if mustWait { semaphore.wait() }
    }

    func open() {
        let waiters = state.withLock { state -> Int in
            if state.isOpen { return 0 }
            state.isOpen = true
            return state.waiting
        }
        for _ in 0..<waiters { semaphore.signal() }
    }
}

@Suite("Checkpoint files")
struct CheckpointTests {
    @Test("checkpoint writes stuck in fsync hold no cooperative thread: the test's own task still runs")
    func blockedWritesLeaveThePoolFree() async throws {
        let directory = try temporaryDirectory()
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let gate = Gate()
        // Each write blocks as an fsync on a stalled disk would.
        let checkpoints = CheckpointDirectory(path: directory) { _, _ in gate.wait() }
        // Swift's cooperative pool has one thread per logical CPU: one write more than that.
        let threads = ProcessInfo.processInfo.processorCount
        // From a Dispatch thread, so it comes even if the writers hold every cooperative thread.
        DispatchQueue.global().asyncAfter(deadline: .now() + 60) { gate.open() }
        let openedByTheDeadline = try await withThrowingTaskGroup(of: Void.self) { group in
            for seq in 0...threads {
                group.addTask { try await checkpoints.writeProducer(.init(updateSeq: Int64(seq)), lastMessage: nil) }
            }
            // Needs a cooperative thread to get past each sleep, while `threads` writers are blocked.
            while gate.waiting < threads, !gate.isOpen {
                try await Task.sleep(for: .milliseconds(10))
            }
            let opened = gate.isOpen
            gate.open()
            try await group.waitForAll()
            return opened
        }
        #expect(!openedByTheDeadline, "the blocked writes held every cooperative thread until the 60 s deadline let them go")
    }
}
