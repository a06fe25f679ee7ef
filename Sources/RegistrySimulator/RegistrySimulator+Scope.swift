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

/// The ports the two servers bound, one ``ListeningPort`` each; `wait()` returns once both listen and
/// `onListening` (which sets the simulator's base URLs) has run.
final class ListeningPorts: Sendable {
    let registry = ListeningPort()
    let replicate = ListeningPort()
    /// Bound (to the registry's port) after `onListening`.
    private let both = ListeningPort()
    private let announced = Mutex(false)
    private let onListening: @Sendable (_ registryPort: Int, _ replicatePort: Int) -> Void

    init(onListening: @escaping @Sendable (_ registryPort: Int, _ replicatePort: Int) -> Void) {
        self.onListening = onListening
    }

    func bound(_ service: ServiceKind, port: Int) {
        switch service {
        case .registry: registry.bound(port)
        case .replicate: replicate.bound(port)
        }
        // Whichever server binds second sees both ports; the flag keeps it to one announcement.
        guard let registryPort = registry.value, let replicatePort = replicate.value else { return }
        let first = announced.withLock { announced in
            defer { announced = true }
            return !announced
        }
        guard first else { return }
        onListening(registryPort, replicatePort)
        both.bound(registryPort)
    }

    /// `run()` ended: wakes the waiters with `error` unless both servers were listening.
    func end(_ error: any Error) {
        registry.ended(error)
        replicate.ended(error)
        both.ended(error)
    }

    func wait() async throws {
        _ = try await both.wait()
    }
}
