import Logging
import ServiceLifecycle

/// Starts a double, runs `body` and stops it when `body` ends, also when it throws: the double's `run()` is
/// a child task of this call, and leaving the body triggers its graceful shutdown and waits for the stop
/// (as Hummingbird's live test framework runs an application).
public func withCouchDBDouble<Value>(
    adminUser: String = "admin",
    adminPassword: String = "admin",
    logger: Logger = Logger(label: "couchdb-double", factory: { _ in SwiftLogNoOpLogHandler() }),
    _ body: (CouchDBDouble) async throws -> Value
) async throws -> Value {
    let double = try await CouchDBDouble.start(adminUser: adminUser, adminPassword: adminPassword, logger: logger)
    let serviceGroup = ServiceGroup(
        configuration: ServiceGroupConfiguration(services: [double], gracefulShutdownSignals: [], logger: logger)
    )
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await serviceGroup.run() }
        let result: Value
        do {
            result = try await body(double)
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
