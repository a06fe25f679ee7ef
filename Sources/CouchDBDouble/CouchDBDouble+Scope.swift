import Logging
import MirrorRuntime

/// Runs a double beside `body` and stops it when `body` ends, also when it throws (`withRunningService`:
/// the double's `run()` is a child task of this call, `body` starts once it listens, and leaving the
/// body triggers its graceful shutdown and waits for the stop).
public func withCouchDBDouble<Value>(
    adminUser: String = "admin",
    adminPassword: String = "admin",
    logger: Logger = Logger(label: "couchdb-double", factory: { _ in SwiftLogNoOpLogHandler() }),
    _ body: (CouchDBDouble) async throws -> Value
) async throws -> Value {
    try await withRunningService(
        CouchDBDouble(adminUser: adminUser, adminPassword: adminPassword, logger: logger),
        logger: logger,
        ready: { try await $0.listening() },
        body
    )
}
