import CouchDBDouble
import Foundation
import Logging
import MirrorRecords
import MirrorSignatures
import MirrorTestSupport
import MirrorVerify
import Testing

/// `verify`'s record pass walks every package record page by page: with pages of 50 over a few
/// hundred records it reaches the last page, on the embedded SQLite store and on the CouchDB double.
@Suite("verify pages through every record")
struct RecordPagingTests {
    /// 260 more package records beside the standard store's two, 300 change records among them, and a
    /// broken record (a stored file that does not exist) whose name sorts after every other.
    static func fill(_ records: some RecordStore) async throws {
        var documents = (0..<260).map { index in
            RecordDocument(id: "filler-\(String(format: "%03d", index))", body: ["type": "package", "name": .string("filler-\(index)"), "stored_versions": [:]])
        }
        documents += (1...300).map { RecordDocument(id: RecordID.change(Int64($0)), body: ["type": "change"], policy: .createOnly) }
        documents.append(
            RecordDocument(id: "zzz-broken", body: [
                "type": "package", "name": "zzz-broken",
                "stored_versions": ["1.0.0": ["integrity": "sha512-x", "bytes": 1, "path": "zz/zzz-broken/zzz-broken-1.0.0.tgz"]],
            ]))
        for start in stride(from: 0, to: documents.count, by: 100) {
            let results = try await records.write(Array(documents[start..<min(start + 100, documents.count)]))
            #expect(results.allSatisfy { $0.isSuccess })
        }
    }

    static func expectLastPageChecked(_ report: VerificationReport) {
        #expect(report.records == 2 + 260 + 1, "the record pass checked \(report.records) package records")
        #expect(report.failures.map(\.kind) == [.recordMissingFile], "\(report.failures)")
        #expect(report.failures.first?.package == "zzz-broken")
    }

    @Test("SQLite: pages of 50; the broken record on the last page is found")
    func sqlite() async throws {
        let test = try await VerifyTestStore.standard()
        try await Self.fill(try test.records())
        let verification = StoreVerification(
            store: test.store, keys: test.signer.trustedKeys, records: try test.records(), recordsLocation: test.recordsPath,
            concurrency: 2, recordPageSize: 50)
        Self.expectLastPageChecked(try await verification.run())
    }

    @Test("CouchDB (the double): pages of 50; the broken record on the last page is found")
    func couchDB() async throws {
        let test = try await VerifyTestStore.standard()
        try await withCouchDBDouble(adminUser: "admin", adminPassword: "verify-pw") { double in
            let couch = CouchDBRecordStore(
                configuration: try CouchDBConfiguration(url: double.url.absoluteString, database: "verify-paging", user: "admin", password: "verify-pw"),
                logger: Logger(label: "verify-test", factory: { _ in SwiftLogNoOpLogHandler() })
            )
            try await couch.prepare()
            // The standard store's two records, copied over, then the rest.
            var copied: [RecordDocument] = []
            for try await page in try test.records().recordPages() {
                copied += page.map { RecordDocument(id: $0.id, body: $0.body) }
            }
            #expect(copied.count == 2)
            _ = try await couch.write(copied)
            try await Self.fill(couch)
            let verification = StoreVerification(
                store: test.store, keys: test.signer.trustedKeys, records: couch, recordsLocation: "couchdb",
                concurrency: 2, recordPageSize: 50)
            Self.expectLastPageChecked(try await verification.run())
        }
    }
}
