import Logging
import MirrorRuntime

/// Starts a double, runs `body` and stops it when `body` ends, also when it throws (`withRunningService`:
/// the double's `run()` is a child task of this call, and leaving the body triggers its graceful shutdown
/// and waits for the stop).
public func withCouchDBDouble<Value>(
    adminUser: String = "admin",
    adminPassword: String = "admin",
    logger: Logger = Logger(label: "couchdb-double", factory: { _ in SwiftLogNoOpLogHandler() }),
    _ body: (CouchDBDouble) async throws -> Value
) async throws -> Value {
    try await withRunningService(
        try await CouchDBDouble.start(adminUser: adminUser, adminPassword: adminPassword, logger: logger),
        logger: logger,
        body
    )
}
