import Logging
import NPMRegistry
import ServiceLifecycle

/// How a retry loop waits between attempts: exponential backoff with full jitter from `base`, never
/// above `cap`; a server's `Retry-After` (from a ``RetryAfterCarrying`` error) wins when it asks for
/// longer.
struct RetryPolicy: Sendable {
    var base: Duration
    var cap: Duration

    /// Writes to the record store and the dead-letter topic: start fast, settle at 30 s.
    static let writes = RetryPolicy(base: .milliseconds(200), cap: .seconds(30))
    /// Start-up steps (preparing the record store, the topic, the resume point).
    static let startUp = RetryPolicy(base: .milliseconds(500), cap: .seconds(30))
}

/// An error that carries a server's `Retry-After`.
protocol RetryAfterCarrying: Error {
    var retryAfter: Duration? { get }
}

extension ProcessingFailure: RetryAfterCarrying {}

/// Runs `operation` until it succeeds, waiting per `policy` after each failure. Every failure is
/// logged ("Could not <what>; retrying in …") and counted by `count` with a bounded reason. A
/// graceful shutdown cancels the attempt in flight (a client's own retries and timeouts included)
/// and wakes the wait: then (or when the task is cancelled) the loop stops and returns nil, and the
/// caller hands its work back. `isRetriable` may end the loop early by rethrowing.
func retrying<T: Sendable>(
    _ what: String,
    policy: RetryPolicy,
    logger: Logger,
    metadata: Logger.Metadata = [:],
    count: (any Error) -> Void = { _ in },
    isRetriable: (any Error) -> Bool = { _ in true },
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T? {
    var backoff = Backoff(base: policy.base, cap: policy.cap)
    while true {
        do {
            return try await cancelWhenGracefulShutdown(operation)
        } catch {
            if Task.isShuttingDownGracefully || Task.isCancelled { return nil }
            guard isRetriable(error) else { throw error }
            count(error)
            let wait = backoff.next(retryAfter: (error as? any RetryAfterCarrying)?.retryAfter)
            var logged = metadata
            logged["error"] = "\(error)"
            logger.warning("Could not \(what); retrying in \(wait)", metadata: logged)
            guard await pauseUnlessShuttingDown(wait) else { return nil }
        }
    }
}

/// Sleeps for `duration` unless a graceful shutdown begins (or has begun): true when the sleep ran
/// its course and the caller should go on, false when it should stop.
func pauseUnlessShuttingDown(_ duration: Duration) async -> Bool {
    guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return false }
    _ = try? await cancelWhenGracefulShutdown { try await Task.sleep(for: duration) }
    return !Task.isShuttingDownGracefully && !Task.isCancelled
}
