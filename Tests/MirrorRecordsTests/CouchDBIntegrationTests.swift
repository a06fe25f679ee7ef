import Foundation
import MirrorRecords
import Testing

/// The store scenarios against a real CouchDB: `COUCHDB_URL=http://admin:pw@127.0.0.1:5984 swift test`
/// (or `COUCHDB_URL` plus `COUCHDB_USER` / `COUCHDB_PASSWORD`). Each scenario uses a fresh, uniquely named
/// database and deletes it afterwards.
@Suite(
    "CouchDBRecordStore against a real CouchDB (COUCHDB_URL)",
    .enabled(if: ProcessInfo.processInfo.environment["COUCHDB_URL"] != nil),
    .serialized,
    .timeLimit(.minutes(2))
)
struct CouchDBIntegrationTests {
    @Test(arguments: StoreScenario.allCases)
    func scenario(_ scenario: StoreScenario) async throws {
        try await scenario.run(on: try CouchDBTarget.fromEnvironment())
    }
}
