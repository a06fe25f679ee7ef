import CouchDBDouble
import Foundation
import Logging
import MirrorRecords
import Testing

/// A CouchDB to run the store scenarios against: a fresh in-process double, or the real server named by
/// `COUCHDB_URL` (credentials in the URL, or `COUCHDB_USER` / `COUCHDB_PASSWORD`).
struct CouchDBTarget: Sendable {
    let url: URL
    let user: String?
    let password: String?
    /// Set when the target is the double: fault hooks.
    let double: CouchDBDouble?

    static var environmentURL: String? { ProcessInfo.processInfo.environment["COUCHDB_URL"] }

    static func fromEnvironment() throws -> CouchDBTarget {
        let environment = ProcessInfo.processInfo.environment
        let text = try #require(environment["COUCHDB_URL"], "COUCHDB_URL is not set")
        // Resolve credentials the way the store does, so the tests know the password to look for.
        let probe = try CouchDBConfiguration(url: text, database: "probe", user: environment["COUCHDB_USER"], password: environment["COUCHDB_PASSWORD"])
        return CouchDBTarget(url: probe.url, user: probe.user, password: probe.password, double: nil)
    }

    func configuration(database: String, user: String? = nil, password: String? = nil) throws -> CouchDBConfiguration {
        var configuration = try CouchDBConfiguration(url: self.url, database: database, user: user ?? self.user, password: password ?? self.password)
        configuration.retry = .init(maxAttempts: 2, initialBackoff: .milliseconds(20), maxBackoff: .milliseconds(100))
        configuration.requestTimeout = .seconds(10)
        return configuration
    }

    func makeStore(
        database: String,
        password: String? = nil,
        logger: Logger = Logger(label: "records-test", factory: { _ in SwiftLogNoOpLogHandler() }),
        tune: (inout CouchDBConfiguration) -> Void = { _ in }
    ) throws -> CouchDBRecordStore {
        var configuration = try self.configuration(database: database, password: password)
        tune(&configuration)
        return CouchDBRecordStore(configuration: configuration, logger: logger)
    }

    static func uniqueDatabaseName(_ hint: String) -> String {
        "records-test-\(hint.lowercased().filter { $0.isLetter || $0.isNumber })-\(UUID().uuidString.prefix(8).lowercased())"
    }

    /// Runs `body` with a store on a fresh, uniquely named database that is deleted afterwards (also on failure).
    func withFreshDatabase(_ hint: String, _ body: (CouchDBRecordStore, String) async throws -> Void) async throws {
        let name = Self.uniqueDatabaseName(hint)
        let store = try self.makeStore(database: name)
        do {
            try await body(store, name)
        } catch {
            _ = try? await store.client.deleteDatabase()
            throw error
        }
        try await store.client.deleteDatabase()
    }
}

/// Runs `body` against a fresh double, stopping it afterwards (also on failure).
func withDouble(_ body: (CouchDBTarget) async throws -> Void) async throws {
    let password = "double-pw-\(UUID().uuidString.prefix(8))"
    try await withCouchDBDouble(adminUser: "admin", adminPassword: password) { double in
        try await body(CouchDBTarget(url: double.url, user: "admin", password: password, double: double))
    }
}

extension RecordWriteResult {
    var rev: String? {
        if case .written(let rev) = self { return rev }
        return nil
    }

    var failure: RecordStoreError? {
        if case .failed(let error) = self { return error }
        return nil
    }

    /// The generation of the written revision (`3` for `3-abc…`).
    var generation: Int? {
        self.rev.flatMap { rev in rev.split(separator: "-").first.flatMap { Int($0) } }
    }
}

func generation(of rev: String?) -> Int? {
    rev.flatMap { rev in rev.split(separator: "-").first.flatMap { Int($0) } }
}
