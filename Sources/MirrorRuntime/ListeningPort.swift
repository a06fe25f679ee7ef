import Synchronization

/// The port a server listens on: set once by the server when it has bound (its `onServerRunning`),
/// read at once or awaited by whoever needs to reach it. Every server of the project keeps its port
/// in one: serve, the metrics endpoint, the registry simulator and the CouchDB double.
///
/// Port 0 in a configuration means "any free port"; this is where the chosen one is learned.
public final class ListeningPort: Sendable {
    private struct State {
        var port: Int?
        /// Set when the server ended before it listened (nil error: it just stopped).
        var ended: Result<Void, any Error>?
        var waiters: [CheckedContinuation<Int, any Error>] = []
    }

    /// The server ended before it listened, without an error of its own.
    public struct NeverListened: Error, CustomStringConvertible {
        public var description: String { "the server stopped before it listened" }
    }

    private let state = Mutex(State())

    public init() {}

    /// The port, once the server listens.
    public var value: Int? { state.withLock { $0.port } }

    /// The server listens on `port`: wakes everyone waiting. Later calls change nothing.
    public func bound(_ port: Int) {
        let waiters = state.withLock { state -> [CheckedContinuation<Int, any Error>] in
            guard state.port == nil, state.ended == nil else { return [] }
            state.port = port
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(returning: port) }
    }

    /// The server stopped (or failed with `error`): a waiter still waiting gets the error, or
    /// ``NeverListened``. Once it has listened, this changes nothing.
    public func ended(_ error: (any Error)? = nil) {
        let failure: any Error = error ?? NeverListened()
        let waiters = state.withLock { state -> [CheckedContinuation<Int, any Error>] in
            guard state.port == nil, state.ended == nil else { return [] }
            state.ended = .failure(failure)
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(throwing: failure) }
    }

    /// Waits until the server listens and returns its port; throws when it ended first.
    public func wait() async throws -> Int {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Int, any Error>) in
            let outcome = state.withLock { state -> Result<Int, any Error>? in
                if let port = state.port { return .success(port) }
                if case .failure(let error) = state.ended { return .failure(error) }
                state.waiters.append(continuation)
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }
}
