import Logging
import ServiceLifecycle

/// How a retry loop waits between attempts: exponential backoff with full jitter from `base`, never
/// above `cap`; a server's `Retry-After` (from a ``RetryAfterCarrying`` error) wins when it asks for
/// longer.
public struct RetryPolicy: Sendable {
    public var base: Duration
    public var cap: Duration

    public init(base: Duration, cap: Duration) {
        self.base = base
        self.cap = cap
    }

    /// Writes to the record store and the dead-letter topic: start fast, settle at 30 s.
    public static let writes = RetryPolicy(base: .milliseconds(200), cap: .seconds(30))
    /// Start-up steps (preparing the record store, the topic, the resume point).
    public static let startUp = RetryPolicy(base: .seconds(1), cap: .seconds(30))
}

/// An error that carries a server's `Retry-After`.
public protocol RetryAfterCarrying: Error {
    var retryAfter: Duration? { get }
}

/// Runs `operation` until it succeeds, waiting per `policy` after each failure: see
/// ``retrying(_:backoff:logger:metadata:attempts:count:isRetriable:cancelledByShutdown:_:)``.
public func retrying<T: Sendable>(
    _ what: String,
    policy: RetryPolicy,
    logger: Logger,
    metadata: Logger.Metadata = [:],
    count: (any Error) -> Void = { _ in },
    isRetriable: (any Error) -> Bool = { _ in true },
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T? {
    var backoff = Backoff(base: policy.base, cap: policy.cap)
    return try await retrying(what, backoff: &backoff, logger: logger, metadata: metadata, count: count, isRetriable: isRetriable, operation)
}

/// Runs `operation` until it succeeds, waiting after each failure as `backoff` says (reset on
/// success, so a caller that keeps one backoff across operations backs off across them). Every
/// failure is logged ("Could not <what>; retrying in …", with the attempt) and counted by `count`.
/// A graceful shutdown wakes the wait and, when `cancelledByShutdown`, cancels the attempt in flight
/// too (a client's own retries and timeouts included); then (or when the task is cancelled) the loop
/// stops and returns nil, and the caller hands its work back. `isRetriable` false rethrows, and so
/// does the last of `attempts` failures when a bound is given (a client's own short retries, under
/// a caller that retries the whole step again later).
public func retrying<T: Sendable>(
    _ what: String,
    backoff: inout Backoff,
    logger: Logger,
    metadata: Logger.Metadata = [:],
    attempts: Int? = nil,
    count: (any Error) -> Void = { _ in },
    isRetriable: (any Error) -> Bool = { _ in true },
    cancelledByShutdown: Bool = true,
    _ operation: @escaping @Sendable () async throws -> T
) async throws -> T? {
    var failures = 0
    while true {
        do {
            let value = cancelledByShutdown ? try await cancelledByGracefulShutdown(operation) : try await operation()
            backoff.reset()
            return value
        } catch {
            if Task.isCancelled || (cancelledByShutdown && Task.isShuttingDownGracefully) { return nil }
            guard isRetriable(error) else { throw error }
            count(error)
            failures += 1
            var logged = metadata
            logged["error"] = "\(error)"
            if let attempts, failures >= attempts {
                logged["attempt"] = "\(failures)"
                logger.warning("Could not \(what); giving up after \(failures) attempts", metadata: logged)
                throw error
            }
            let wait = backoff.next(retryAfter: (error as? any RetryAfterCarrying)?.retryAfter)
            logged["attempt"] = "\(backoff.attempts)"
            logger.warning("Could not \(what); retrying in \(wait)", metadata: logged)
            guard await pauseUnlessShuttingDown(wait) else { return nil }
        }
    }
}

/// Sleeps for `duration` unless a graceful shutdown begins (or has begun): true when the sleep ran
/// its course and the caller should go on, false when it should stop.
public func pauseUnlessShuttingDown(_ duration: Duration) async -> Bool {
    guard !Task.isShuttingDownGracefully, !Task.isCancelled else { return false }
    _ = try? await cancelledByGracefulShutdown { try await Task.sleep(for: duration) }
    return !Task.isShuttingDownGracefully && !Task.isCancelled
}
