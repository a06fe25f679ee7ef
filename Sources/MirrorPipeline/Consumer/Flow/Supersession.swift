import Synchronization

/// Tells a running change that a later change of its package has arrived: a one-shot event its
/// lane fires (``LaneQueue/push(_:)``) and the change's attempt awaits where it would otherwise wait
/// for nothing — the replica-lag wait (``PackumentWait``) ends at once, as the later change reads the
/// current packument anyway.
public final class Supersession: Sendable {
    private struct State {
        var happened = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextWaiter = 0
    }

    private let state = Mutex(State())

    public init() {}

    /// An event that never happens (a change processed outside a lane).
    public static var never: Supersession { Supersession() }

    /// Whether the later change has arrived.
    public var hasHappened: Bool { state.withLock { $0.happened } }

    /// The later change has arrived: every waiter, present and future, returns.
    public func fire() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.happened = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
    }

    /// Returns when the event has happened, or when the task is cancelled.
    public func wait() async {
        let id = state.withLock { state -> Int in
            state.nextWaiter += 1
            return state.nextWaiter
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let now = state.withLock { state -> Bool in
                    if state.happened || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if now { continuation.resume() }
            }
        } onCancel: {
            state.withLock { $0.waiters.removeValue(forKey: id) }?.resume()
        }
    }

    /// Sleeps for `duration`, or less when the event happens (or the task is cancelled) first.
    /// Returns true when the event has happened.
    public func sleep(for duration: Duration) async -> Bool {
        guard !hasHappened else { return true }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.wait() }
            group.addTask { try? await Task.sleep(for: duration) }
            await group.next()
            group.cancelAll()
        }
        return hasHappened
    }
}
