import Foundation
import MirrorRecords
import MirrorTestSupport
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

@Suite("The embedded store's search index")
struct SQLiteSearchIndexTests {
    @Test("best first from the trigram index: exact name, name prefix, name, description; kept by every write; a database made before the index is indexed at prepare")
    func ranked() async throws {
        let path = try temporaryDirectory() + "/records.sqlite"
        // A database as an older version left it, made by Python's sqlite3: the records table and a
        // package, no index.
        let script = """
            import sqlite3, sys
            db = sqlite3.connect(sys.argv[1])
            db.execute("CREATE TABLE records (id TEXT PRIMARY KEY NOT NULL, generation INTEGER NOT NULL, body TEXT NOT NULL)")
            db.execute("INSERT INTO records VALUES ('express', 1, '{\\"type\\":\\"package\\",\\"description\\":\\"Fast web framework\\"}')")
            db.commit()
            """
        let made = try await runProgram(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, path], mergingStandardError: true)
        #expect(made.status == 0, "\(made.output)")
        let store = try SQLiteRecordStore(path: path)
        try await store.prepare()
        #expect(try await store.packageRecords(matching: "framework", limit: 10).map(\.id) == ["express"])
        let documents: [RecordDocument] = [
            RecordDocument(id: "express-session", body: ["type": "package", "description": "Sessions"]),
            RecordDocument(id: "@types/express", body: ["type": "package", "description": "Types"]),
            RecordDocument(id: "koa", body: ["type": "package", "description": "Next generation web framework, lighter than Express"]),
            RecordDocument(id: "express-gone", body: ["type": "package", "deleted": true]),
            RecordDocument(id: "change:1", body: ["type": "change", "id": "express"]),
        ]
        _ = try await store.write(documents)
        func names(_ text: String) async throws -> [String] { try await store.packageRecords(matching: text, limit: 10).map(\.id) }
        #expect(try await names("EXPRESS") == ["express", "express-session", "@types/express", "koa"])
        // Writes keep the index: a description changed, a package deleted, one added.
        _ = try await store.write([
            RecordDocument(id: "koa", body: ["type": "package", "description": "Next generation web framework"]),
            RecordDocument(id: "express-session", body: ["type": "package", "deleted": true]),
            RecordDocument(id: "zz-express-last", body: ["type": "package", "description": JSONValue.null]),
        ])
        #expect(try await names("express") == ["express", "@types/express", "zz-express-last"])
        #expect(try await names("framework") == ["express", "koa"])
        // Short texts are scanned, with the same tiers.
        #expect(try await names("ko") == ["koa"])
    }
}
