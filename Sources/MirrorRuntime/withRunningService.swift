import Logging
import ServiceLifecycle

/// Runs `service` beside `body` and stops it when `body` ends, also when it throws, as Hummingbird's live
/// test framework runs an application: the service runs in a `ServiceGroup` that is a child task of this
/// call; `ready` waits until it can be used (e.g. until it listens), then `body` runs; leaving `body`
/// triggers the group's graceful shutdown and waits for it. Rethrows `ready`'s or `body`'s error first,
/// else the service's failure.
public func withRunningService<S: Service, Value>(
    _ service: S,
    logger: Logger,
    ready: (S) async throws -> Void = { _ in },
    _ body: (S) async throws -> Value
) async throws -> Value {
    let serviceGroup = ServiceGroup(
        configuration: ServiceGroupConfiguration(services: [service], gracefulShutdownSignals: [], logger: logger)
    )
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await serviceGroup.run() }
        let result: Value
        do {
            try await ready(service)
            result = try await body(service)
        } catch {
            await serviceGroup.triggerGracefulShutdown()
            try? await group.waitForAll()
            throw error
        }
        await serviceGroup.triggerGracefulShutdown()
        try await group.waitForAll()
        return result
    }
}
