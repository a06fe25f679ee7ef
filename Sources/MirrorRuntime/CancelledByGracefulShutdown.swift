import ServiceLifecycle

/// Runs `operation`, cancelling it when a graceful shutdown begins (or when this task is cancelled).
///
/// Not swift-service-lifecycle's `cancelWhenGracefulShutdown`: its waiter can miss a cancellation
/// that comes before it has stored its continuation (an operation that finishes at once), and then
/// it never returns. Called for every attempt and every write, that hung runs. Here both events
/// cancel a task handle, which cannot be missed. Every shutdown-aware wait of the package (retry
/// sleeps, the simulator's live publisher, the progress reporter) goes through it.
///
/// Seen on 2026-12-07: in a whole-suite run with the library's call in its place, a loop of 20,000
/// calls from eight tasks stopped for good after 3,448, and a consumer's lane hung in the same run.
/// Alone the race did not show (40,000 calls of 40,000 returned), and a test running such a loop
/// inside the suite's process coincided with stalls of every other test in it, so there is none.
public func cancelledByGracefulShutdown<T: Sendable>(_ operation: @escaping @Sendable () async throws -> T) async throws -> T {
    let task = Task { try await operation() }
    return try await withTaskCancellationHandler {
        try await withGracefulShutdownHandler {
            try await task.value
        } onGracefulShutdown: {
            task.cancel()
        }
    } onCancel: {
        task.cancel()
    }
}
