import Foundation
import MirrorRecords
import Testing

@Suite("The embedded SQLite record store behaves like CouchDB for the consumer")
struct SQLiteRecordStoreTests {
    private func freshStore() throws -> SQLiteRecordStore {
        let path = NSTemporaryDirectory() + "npm-mirror-records-\(UUID().uuidString)/records.sqlite"
        return try SQLiteRecordStore(path: path)
    }

    @Test("the store-agnostic scenarios", arguments: StoreScenario.storeAgnostic)
    func scenario(_ scenario: StoreScenario) async throws {
        let store = try freshStore()
        try await store.prepare()
        try await scenario.run(on: store)
    }

    @Test("what was written survives reopening the file")
    func durable() async throws {
        let store = try freshStore()
        try await store.prepare()
        let results = try await store.write([
            RecordDocument(id: "@scope/name", body: ["n": 1]),
            RecordDocument(id: "change:1", body: ["seq": 1], policy: .createOnly),
        ])
        #expect(results == [.written(rev: "1-sqlite"), .written(rev: "1-sqlite")])
        let reopened = try SQLiteRecordStore(path: store.path)
        try await reopened.prepare()
        #expect(try await reopened.read(id: "@scope/name") == ["n": 1])
        #expect(try await reopened.count() == 2)
        #expect(try await reopened.write([RecordDocument(id: "change:1", body: ["seq": 2], policy: .createOnly)]) == [.alreadyExists])
        #expect(try await reopened.read(id: "change:1") == ["seq": 1])
    }

    @Test("a file that cannot be opened is a clear, typed error")
    func unopenable() {
        let error = #expect(throws: RecordStoreError.self) { try SQLiteRecordStore(path: "/proc/npm-mirror-no/records.sqlite") }
        #expect(error != nil)
    }
}
