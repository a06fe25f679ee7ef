import ServiceLifecycle

/// Runs `operation`, cancelling it when a graceful shutdown begins (or when this task is cancelled).
///
/// Not swift-service-lifecycle's `cancelWhenGracefulShutdown`: its waiter can miss a cancellation
/// that comes before it has stored its continuation (an operation that finishes at once), and then
/// it never returns. Called for every attempt and every write, that hung runs. Here both events
/// cancel a task handle, which cannot be missed. Every shutdown-aware wait of the package (retry
/// sleeps, the simulator's live publisher, the progress reporter) goes through it.
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
