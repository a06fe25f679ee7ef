import Logging
import MirrorTestSupport
import ServiceLifecycle
import Synchronization
import Testing

/// The project once wrapped swift-service-lifecycle's `cancelWhenGracefulShutdown` in a helper of its
/// own, on the belief that the library's waiter could be lost when the operation ends at once (the
/// group cancelling the waiter before it stored its continuation) and the call would never return.
/// Run as the services run it — inside a service group, from eight tasks at once, 20,000 times — it
/// always returns, so the helper went and every shutdown-aware wait calls the library. This test
/// keeps the evidence.
@Suite("A shutdown-aware call is never lost", .timeLimit(.minutes(3)))
struct CancelWhenGracefulShutdownTests {
    static let calls = 20_000

    /// Runs `calls` calls of `call` inside a service group (where the graceful-shutdown handlers are
    /// registered, as in the services); returns how many returned within 90 s.
    static func callsReturned(_ call: @escaping @Sendable (Int) async -> Void) async -> Int {
        let finished = Tally()
        let service = LoopService {
            // Eight loops at once, on every thread of the pool.
            await withTaskGroup(of: Void.self) { group in
                for loop in 0..<8 {
                    group.addTask {
                        for value in stride(from: loop, to: calls, by: 8) {
                            await call(value)
                            finished.count.withLock { $0 += 1 }
                        }
                    }
                }
            }
        }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [service], logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })))
        // Unstructured: a call that never returns cannot be cancelled out of, so the test does not wait
        // for a group that hangs; it only watches how far the calls got.
        let running = Task { try await group.run() }
        let all = await eventually(within: .seconds(90)) { finished.count.withLock { $0 } == calls }
        if all { _ = await running.result }
        return finished.count.withLock { $0 }
    }

    @Test("cancelWhenGracefulShutdown with an operation that ends at once: every call returns, 20,000 times over, eight tasks at once")
    func libraryReturns() async throws {
        let returned = await Self.callsReturned { value in
            let answer = await cancelWhenGracefulShutdown { value }
            #expect(answer == value)
        }
        #expect(returned == Self.calls, "cancelWhenGracefulShutdown lost a waiter: \(Self.calls - returned) calls never returned")
    }
}

/// Calls that returned, counted from many tasks.
final class Tally: Sendable {
    let count = Mutex(0)
}

/// A service that runs a body once.
struct LoopService: Service {
    let body: @Sendable () async -> Void
    init(_ body: @escaping @Sendable () async -> Void) { self.body = body }
    func run() async throws { await body() }
}
