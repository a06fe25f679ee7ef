import Logging
import MirrorRuntime
import Synchronization

/// Runs a simulator beside `body` and stops it when `body` ends, also when it throws (`withRunningService`:
/// the simulator's `run()` is a child task of this call, and leaving the body triggers its graceful shutdown
/// and waits for it). Rethrows `body`'s error first, else a server failure.
public func withRegistrySimulator<Value>(
    configuration: RegistrySimulator.Configuration = RegistrySimulator.Configuration(),
    logger: Logger = Logger(label: "npm-registry-sim"),
    _ body: (RegistrySimulator) async throws -> Value
) async throws -> Value {
    try await withRunningService(
        try RegistrySimulator(configuration: configuration, logger: logger),
        logger: logger,
        ready: { try await $0.listening() },
        body
    )
}

/// The ports the two servers bound: filled by their `onServerRunning`, awaited by `listening()`.
final class ListeningPorts: Sendable {
    private struct State {
        var registry: Int?
        var replicate: Int?
        var failure: (any Error)?
        var waiters: [CheckedContinuation<Void, any Error>] = []
        var isListening: Bool { self.registry != nil && self.replicate != nil }
    }

    private let state = Mutex(State())
    private let onListening: @Sendable (_ registryPort: Int, _ replicatePort: Int) -> Void

    init(onListening: @escaping @Sendable (_ registryPort: Int, _ replicatePort: Int) -> Void) {
        self.onListening = onListening
    }

    func bound(_ service: ServiceKind, port: Int) {
        let (ports, waiters) = self.state.withLock { state -> ((Int, Int)?, [CheckedContinuation<Void, any Error>]) in
            let wasListening = state.isListening
            switch service {
            case .registry: state.registry = port
            case .replicate: state.replicate = port
            }
            guard !wasListening, let registry = state.registry, let replicate = state.replicate else { return (nil, []) }
            defer { state.waiters = [] }
            return ((registry, replicate), state.waiters)
        }
        guard let ports else { return }
        self.onListening(ports.0, ports.1)
        for waiter in waiters { waiter.resume() }
    }

    /// `run()` ended: wakes the waiters with `error` unless both servers were listening.
    func end(_ error: any Error) {
        let waiters = self.state.withLock { state -> [CheckedContinuation<Void, any Error>] in
            guard !state.isListening else { return [] }
            if state.failure == nil { state.failure = error }
            defer { state.waiters = [] }
            return state.waiters
        }
        for waiter in waiters { waiter.resume(throwing: error) }
    }

    func wait() async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, any Error>) in
            let outcome = self.state.withLock { state -> Result<Void, any Error>? in
                if state.isListening { return .success(()) }
                if let failure = state.failure { return .failure(failure) }
                state.waiters.append(continuation)
                return nil
            }
            if let outcome { continuation.resume(with: outcome) }
        }
    }
}
