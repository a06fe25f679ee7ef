import Foundation
import Logging
import MirrorRecords
import MirrorTestSupport
import NIOHTTP1
import Testing

/// Record-store scenarios written once and run against the double (`CouchDBRecordStoreTests`) and, when
/// `COUCHDB_URL` is set, against a real CouchDB (`CouchDBIntegrationTests`), so the two cannot drift.
/// Scenarios that need fault hooks live in `CouchDBRecordStoreFaultTests` (double only).
enum StoreScenario: String, CaseIterable, Sendable, CustomTestStringConvertible {
    case prepareTwice
    case upsertNewAndExisting
    case createOnlyReplay
    case mixedPoliciesInOneBatch
    case scopedAndOddIDs
    case reservedIDFailsAlone
    case duplicateIDsInOneBatch
    case packageSearch
    case pagingToTheLastPage
    case searchIndexFollowsChanges
    case forwardOnly
    case forwardOnlyAcrossWriters
    case concurrentWritersResolveConflicts
    case bulkDocsPerDocumentResults
    case readMissingAndMissingDatabase
    case wrongPasswordIsUnauthorizedAndNeverPrinted

    var testDescription: String { self.rawValue }

    /// The scenarios that speak only the `RecordStore` interface: the embedded SQLite store runs them too.
    static let storeAgnostic: [StoreScenario] = [
        .prepareTwice, .upsertNewAndExisting, .createOnlyReplay, .mixedPoliciesInOneBatch, .scopedAndOddIDs,
        .reservedIDFailsAlone, .duplicateIDsInOneBatch, .packageSearch, .pagingToTheLastPage, .forwardOnly,
    ]

    /// Runs a store-agnostic scenario on `store`.
    func run(on store: some RecordStore) async throws {
        switch self {
        case .prepareTwice: try await Self.prepareTwice(store)
        case .upsertNewAndExisting: try await Self.upsertNewAndExisting(store)
        case .createOnlyReplay: try await Self.createOnlyReplay(store)
        case .mixedPoliciesInOneBatch: try await Self.mixedPoliciesInOneBatch(store)
        case .scopedAndOddIDs: try await Self.scopedAndOddIDs(store)
        case .reservedIDFailsAlone: try await Self.reservedIDFailsAlone(store)
        case .duplicateIDsInOneBatch: try await Self.duplicateIDsInOneBatch(store)
        case .packageSearch: try await Self.packageSearch(store)
        case .pagingToTheLastPage: try await Self.pagingToTheLastPage(store)
        case .forwardOnly: try await Self.forwardOnly(store)
        default: Issue.record("\(self) needs a CouchDB target")
        }
    }

    func run(on target: CouchDBTarget) async throws {
        try await target.withFreshDatabase(self.rawValue) { store, database in
            switch self {
            case .concurrentWritersResolveConflicts: try await Self.concurrentWriters(store, target: target, database: database)
            case .bulkDocsPerDocumentResults: try await Self.bulkDocsPerDocumentResults(store)
            case .readMissingAndMissingDatabase: try await Self.readMissingAndMissingDatabase(store, target: target)
            case .wrongPasswordIsUnauthorizedAndNeverPrinted: try await Self.wrongPassword(store, target: target, database: database)
            case .forwardOnlyAcrossWriters: try await Self.forwardOnlyAcrossWriters(store, target: target, database: database)
            case .searchIndexFollowsChanges: try await Self.searchIndexFollowsChanges(store)
            default: try await self.run(on: store)
            }
        }
    }

    // MARK: Scenarios

    static func prepareTwice(_ store: some RecordStore) async throws {
        try await store.prepare()
        try await store.prepare()  // 412 file_exists is fine
        #expect(try await store.count() == 0)
    }

    static func upsertNewAndExisting(_ store: some RecordStore) async throws {
        try await store.prepare()
        let first = try await store.write([
            RecordDocument(id: "lodash", body: ["latest": "4.17.21"]),
            RecordDocument(id: "express", body: ["latest": "4.18.0"]),
        ])
        #expect(first.map(\.generation) == [1, 1])

        let second = try await store.write([
            RecordDocument(id: "lodash", body: ["latest": "4.17.22", "versions": ["4.17.21", "4.17.22"]]),
            RecordDocument(id: "react", body: ["latest": "18.2.0"]),
        ])
        #expect(second.map(\.generation) == [2, 1])
        #expect(try await store.read(id: "lodash") == ["latest": "4.17.22", "versions": ["4.17.21", "4.17.22"]])
        #expect(try await store.read(id: "express") == ["latest": "4.18.0"])
        #expect(try await store.count() == 3)
        let all = try await store.readAll(limit: 10)
        #expect(all.map(\.id) == ["express", "lodash", "react"])
        #expect(all.map { generation(of: $0.revision) } == [1, 2, 1])
    }

    /// A package record never moves to an older `packument_rev`: refused (`.keptNewer`) when the
    /// stored generation is higher, written when it is the same or lower, or when either side has none.
    static func forwardOnly(_ store: some RecordStore) async throws {
        try await store.prepare()
        let policy = UpdatePolicy.forwardOnly(revisionField: "packument_rev")
        func record(_ rev: JSONValue, _ value: Int) -> RecordDocument {
            RecordDocument(id: "@scope/pkg", body: ["packument_rev": rev, "v": .number(Double(value))], policy: policy)
        }
        #expect(try await store.write([record("6-a", 6)]).first?.generation == 1)
        #expect(try await store.write([record("10-c", 10)]).first?.generation == 2, "10 is newer than 6 (numbers, not text)")
        #expect(try await store.write([record("9-z", 9)]) == [.keptNewer(current: "10-c")])
        #expect(try await store.read(id: "@scope/pkg")?["v"]?.intValue == 10)
        #expect(try await store.write([record("10-c", 100)]).first?.generation == 3, "the same generation is not older")
        // In one batch, in order: the older one after the newer one is refused.
        let batch = try await store.write([record("11-d", 11), record("8-b", 8)])
        #expect(batch.first?.generation == 4)
        #expect(batch.last == .keptNewer(current: "11-d"))
        #expect(try await store.read(id: "@scope/pkg")?["v"]?.intValue == 11)
        // A body without a revision (nothing to compare) is written, as `.replace` would.
        #expect(try await store.write([record(.null, 0)]).first?.generation == 5)
        #expect(try await store.write([record("2-a", 2)]).first?.generation == 6)
        // A missing document is created.
        let fresh = RecordDocument(id: "fresh", body: ["packument_rev": "3-a"], policy: policy)
        #expect(try await store.write([fresh]).first?.generation == 1)
    }

    /// Two writers (two consumers) without each other's revision cache: the one holding the older
    /// revision is refused after its conflict re-read, whatever it had cached.
    static func forwardOnlyAcrossWriters(_ store: CouchDBRecordStore, target: CouchDBTarget, database: String) async throws {
        try await store.prepare()
        let other = try target.makeStore(database: database)
        let policy = UpdatePolicy.forwardOnly(revisionField: "packument_rev")
        #expect(try await store.write([RecordDocument(id: "left-pad", body: ["packument_rev": "5-a", "by": "one"], policy: policy)]).first?.generation == 1)
        // The other writer learns the document (and caches it), then the first moves it to 7.
        #expect(try await other.write([RecordDocument(id: "left-pad", body: ["packument_rev": "6-b", "by": "other"], policy: policy)]).first?.generation == 2)
        #expect(try await store.write([RecordDocument(id: "left-pad", body: ["packument_rev": "7-c", "by": "one"], policy: policy)]).first?.generation == 3)
        // The other's cache says 6-b at its revision: the update conflicts, the re-read finds 7-c.
        #expect(try await other.write([RecordDocument(id: "left-pad", body: ["packument_rev": "6-b", "by": "other again"], policy: policy)]) == [.keptNewer(current: "7-c")])
        #expect(try await store.read(id: "left-pad")?["by"]?.stringValue == "one")
    }

    static func createOnlyReplay(_ store: some RecordStore) async throws {
        try await store.prepare()
        let changes = (1...3).map { seq in
            RecordDocument(id: String(format: "change-%08d", seq), body: ["seq": .number(Double(seq)), "name": .string("pkg\(seq)")], policy: .createOnly)
        }
        let first = try await store.write(changes)
        #expect(first.allSatisfy { $0.generation == 1 })

        // Replay (e.g. after a crash before the offset commit), with a body that differs: nothing changes.
        let replay = changes.map { RecordDocument(id: $0.id, body: $0.body.merging(["replayed": true]) { $1 }, policy: .createOnly) }
        #expect(try await store.write(replay) == [.alreadyExists, .alreadyExists, .alreadyExists])
        #expect(try await store.count() == 3)
        #expect(try await store.read(id: "change-00000001") == ["seq": 1, "name": "pkg1"])
    }

    static func mixedPoliciesInOneBatch(_ store: some RecordStore) async throws {
        try await store.prepare()
        _ = try await store.write([
            RecordDocument(id: "existing-change", body: ["v": 1], policy: .createOnly),
            RecordDocument(id: "existing-package", body: ["v": 1]),
        ])
        let results = try await store.write([
            RecordDocument(id: "existing-change", body: ["v": 2], policy: .createOnly),
            RecordDocument(id: "new-change", body: ["v": 1], policy: .createOnly),
            RecordDocument(id: "existing-package", body: ["v": 2]),
            RecordDocument(id: "new-package", body: ["v": 1]),
        ])
        #expect(results[0] == .alreadyExists)
        #expect(results[1].generation == 1)
        #expect(results[2].generation == 2)
        #expect(results[3].generation == 1)
        #expect(try await store.read(id: "existing-change") == ["v": 1])
        #expect(try await store.read(id: "existing-package") == ["v": 2])
        #expect(try await store.count() == 4)
    }

    static let oddIDs = ["@types/node", "@babel/core", "a b+c%d?e#f&g=h", "ünïcödé/пакет", "dots.and-dashes_under~"]

    static func scopedAndOddIDs(_ store: some RecordStore) async throws {
        try await store.prepare()
        let first = try await store.write(Self.oddIDs.map { RecordDocument(id: $0, body: ["name": .string($0)]) })
        #expect(first.map(\.generation) == Array(repeating: 1, count: Self.oddIDs.count))
        // Updating looks the revisions up by id (`_all_docs` keys) — must find every one.
        let second = try await store.write(Self.oddIDs.map { RecordDocument(id: $0, body: ["name": .string($0), "v": 2]) })
        #expect(second.map(\.generation) == Array(repeating: 2, count: Self.oddIDs.count))
        for id in Self.oddIDs {
            #expect(try await store.read(id: id) == ["name": .string(id), "v": 2], "id \(id)")
        }
        #expect(Set(try await store.readAll(limit: 100).map(\.id)) == Set(Self.oddIDs))
        #expect(try await store.count() == Self.oddIDs.count)
    }

    static func reservedIDFailsAlone(_ store: some RecordStore) async throws {
        try await store.prepare()
        let results = try await store.write([
            RecordDocument(id: "ok-1", body: ["v": 1]),
            RecordDocument(id: "_bad", body: ["v": 1]),
            RecordDocument(id: "", body: ["v": 1]),
            RecordDocument(id: "reserved-member", body: ["_secret": 1]),
            RecordDocument(id: "ok-2", body: ["v": 1, "_id": "ignored", "_rev": "9-ignored"]),
        ])
        #expect(results[0].generation == 1)
        #expect(results[1].failure?.code == .illegalDocID)
        #expect(results[2].failure?.code == .illegalDocID)
        #expect(results[3].failure?.code == .badRequest)
        #expect(results[4].generation == 1)
        #expect(results.compactMap(\.failure).allSatisfy { !$0.isRetriable })
        #expect(try await store.count() == 2)
        #expect(try await store.read(id: "ok-2") == ["v": 1])
        #expect(try await store.read(id: "_bad") == nil)
    }

    static func duplicateIDsInOneBatch(_ store: some RecordStore) async throws {
        try await store.prepare()
        let results = try await store.write([
            RecordDocument(id: "a", body: ["v": 1]),
            RecordDocument(id: "b", body: ["v": 1], policy: .createOnly),
            RecordDocument(id: "a", body: ["v": 2]),
            RecordDocument(id: "b", body: ["v": 2], policy: .createOnly),
        ])
        #expect(results[0].generation == 1)
        #expect(results[1].generation == 1)
        #expect(results[2].generation == 2)
        #expect(results[3] == .alreadyExists)
        #expect(try await store.read(id: "a") == ["v": 2])
        #expect(try await store.read(id: "b") == ["v": 1])
    }

    /// `packageRecords(matching:)`: live package records whose name or description holds the text,
    /// case-insensitive, in id order; `%` and `_` are plain characters.
    static func packageSearch(_ store: some RecordStore) async throws {
        try await store.prepare()
        _ = try await store.write([
            RecordDocument(id: "left-pad", body: ["type": "package", "description": "String left pad"]),
            RecordDocument(id: "@scope/Pad_100%", body: ["type": "package", "description": .null]),
            RecordDocument(id: "padding", body: ["type": "package", "deleted": true]),
            RecordDocument(id: "gone", body: ["type": "package", "unpublished": true, "description": "pad"]),
            RecordDocument(id: "change:1", body: ["type": "change", "id": "left-pad", "description": "pad"]),
            RecordDocument(id: "strings", body: ["type": "package", "description": "Utilities: PAD, trim"]),
        ])
        func names(_ text: String, limit: Int = 10) async throws -> [String] {
            try await store.packageRecords(matching: text, limit: limit).map(\.id)
        }
        // Order is the store's (SQLite: best first; the default walk: by id): the search ranks them.
        #expect(Set(try await names("pad")) == ["@scope/Pad_100%", "left-pad", "strings"])
        // The names before the description: both stores give them first.
        #expect(Set(try await names("PAD", limit: 2)) == ["@scope/Pad_100%", "left-pad"])
        #expect(try await names("trim") == ["strings"])
        #expect(try await names("_100%") == ["@scope/Pad_100%"])
        #expect(try await names("d_1") == ["@scope/Pad_100%"], "_ is not a wildcard")
        #expect(try await names("x%") == [])
        #expect(try await names("") == ["@scope/Pad_100%", "left-pad", "strings"])
    }

    /// A walk through every record and every package record in pages of 50 reaches the last page:
    /// 310 packages (names around `change`, upper-case legacy names, scoped names, one sorting last)
    /// among 300 change records and, on CouchDB, a design document.
    static func pagingToTheLastPage(_ store: some RecordStore) async throws {
        try await store.prepare()
        var packages = (0..<300).map { "pkg-\(String(format: "%03d", $0))" }
        packages += ["chalk", "change", "change-case", "changelog", "changes", "JSONStream", "@types/node", "@scope/change", "~tilde", "zzzz-sorts-last"]
        let changes = (1...300).map { RecordID.change(Int64($0)) }
        var documents = packages.enumerated().map { index, name in
            RecordDocument(id: name, body: ["type": "package", "name": .string(name), "deleted": .bool(index % 7 == 0)])
        }
        documents += changes.map { RecordDocument(id: $0, body: ["type": "change"], policy: .createOnly) }
        for batch in stride(from: 0, to: documents.count, by: 100) {
            let results = try await store.write(Array(documents[batch..<min(batch + 100, documents.count)]))
            #expect(results.allSatisfy { $0.isSuccess })
        }
        if let couch = store as? CouchDBRecordStore {
            let response = try await couch.client.send(.PUT, path: ["_design", "scratch"], body: ["views": [:]])
            #expect(response.status == 201)
        }
        let byteOrder = { (a: String, b: String) in Array(a.utf8).lexicographicallyPrecedes(Array(b.utf8)) }

        var pages: [[String]] = []
        for try await page in store.packageRecordPages(pageSize: 50) {
            #expect(page.count <= 50)
            #expect(page.allSatisfy { $0.isPackage })
            pages.append(page.map(\.id))
        }
        let walked = pages.flatMap { $0 }
        #expect(walked == packages.sorted(by: byteOrder), "the walk missed, repeated or misordered package records")
        #expect(walked.last == "~tilde")
        #expect(pages.count == (packages.count + 49) / 50)

        var all: [String] = []
        for try await page in store.recordPages(pageSize: 50) { all += page.map(\.id) }
        #expect(all == (packages + changes).sorted(by: byteOrder), "the walk through every record is not every record once, in byte order")

        // A range: after one id, before another, both bounds exclusive.
        let range = try await store.records(after: "change", before: "changelog", limit: 1000).map(\.id)
        #expect(range == ["change-case"] + changes.sorted(by: byteOrder))
        // Search reaches the package that sorts last among the live ones, and only live packages.
        #expect(try await store.packageRecords(matching: "zzzz-sorts", limit: 10).map(\.id) == ["zzzz-sorts-last"])
        #expect(Set(try await store.packageRecords(matching: "change", limit: 10).map(\.id)) == ["change-case", "changelog", "changes", "@scope/change"])
        // A walk that starts inside the change records steps over the rest of them.
        #expect(try await store.packageRecords(after: RecordID.change(5), limit: 3).map(\.id) == ["changelog", "changes", "pkg-000"])
    }

    /// serve's search index of a CouchDB: built from `_changes` in pages of 50 to the last page (a
    /// package sorting last and one written last are found), refused while not built, ranked like the
    /// embedded store; a later pass applies new, changed, deleted and removed records; a new index on
    /// the same file goes on from the saved progress.
    static func searchIndexFollowsChanges(_ store: CouchDBRecordStore) async throws {
        try await store.prepare()
        let logger = Logger(label: "records-test", factory: { _ in SwiftLogNoOpLogHandler() })
        var documents = (0..<240).map { index in
            RecordDocument(id: "pkg-\(String(format: "%03d", index))", body: ["type": "package", "description": .string("filler number \(index)")])
        }
        documents += [
            RecordDocument(id: "zzzz-sorts-last", body: ["type": "package", "description": "the last name"]),
            RecordDocument(id: "left-pad", body: ["type": "package", "description": "String left pad"]),
            RecordDocument(id: "pad", body: ["type": "package", "description": "short"]),
            RecordDocument(id: "padding-utils", body: ["type": "package", "description": "utilities"]),
            RecordDocument(id: "gone-pad", body: ["type": "package", "description": "pad", "deleted": true]),
        ]
        documents += (1...120).map { RecordDocument(id: RecordID.change(Int64($0)), body: ["type": "change", "id": "pad"], policy: .createOnly) }
        for batch in stride(from: 0, to: documents.count, by: 100) {
            #expect(try await store.write(Array(documents[batch..<min(batch + 100, documents.count)])).allSatisfy(\.isSuccess))
        }
        let response = try await store.client.send(.PUT, path: ["_design", "scratch"], body: ["views": [:]])
        #expect(response.status == 201)

        let path = NSTemporaryDirectory() + "search-index-\(UUID().uuidString)/records-search.sqlite"
        defer { try? FileManager.default.removeItem(atPath: (path as NSString).deletingLastPathComponent) }
        let index = try CouchDBSearchIndex(path: path, source: store, pageSize: 50, logger: logger)
        await #expect(throws: SearchIndexNotReady.self) { try await index.packageRecords(matching: "pad", limit: 10) }

        let read = try await index.catchUp()
        #expect(read == documents.count + 1, "every document and the design document, each once")
        #expect(index.progress.built && index.progress.packagesCopied == 245)
        #expect(try await index.packageRecords(matching: "zzzz-sorts", limit: 10).map(\.id) == ["zzzz-sorts-last"])
        // Exact name, then the name prefix, then names holding it, then descriptions; never the deleted one.
        #expect(try await index.packageRecords(matching: "pad", limit: 10).map(\.id) == ["pad", "padding-utils", "left-pad"])
        #expect(try await index.packageRecords(matching: "filler", limit: 500).count == 240)

        // What changes after the first pass: a new package, a new description, a deletion in the
        // records and a document removed from CouchDB.
        let revision = try #require(try await store.client.revisions(ids: ["padding-utils"])["padding-utils"])
        #expect(try await store.write([
            RecordDocument(id: "new-pad", body: ["type": "package", "description": "written after the first pass"]),
            RecordDocument(id: "pkg-007", body: ["type": "package", "description": "now about padding"]),
            RecordDocument(id: "pad", body: ["type": "package", "deleted": true]),
        ]).allSatisfy(\.isSuccess))
        guard case .live(let rev) = revision else { throw CancellationError() }
        let removed = try await store.client.send(.DELETE, path: ["padding-utils"], query: [("rev", rev)])
        #expect(removed.status == 200)
        #expect(try await index.catchUp() == 4)
        let after = try await index.packageRecords(matching: "pad", limit: 10).map(\.id)
        #expect(after.count == 3 && Set(after.prefix(2)) == ["new-pad", "left-pad"] && after.last == "pkg-007", "\(after)")

        // The same file opened again: nothing to read until something changes.
        let reopened = try CouchDBSearchIndex(path: path, source: store, pageSize: 50, logger: logger)
        #expect(reopened.progress == index.progress)
        #expect(try await reopened.catchUp() == 0)
        #expect(try await reopened.packageRecords(matching: "zzzz", limit: 10).map(\.id) == ["zzzz-sorts-last"])

        // The database deleted and made again (a reset): the index is rebuilt from the new one.
        #expect(try await store.client.deleteDatabase())
        try await store.prepare()
        #expect(try await store.write([RecordDocument(id: "after-reset", body: ["type": "package", "description": "pad"])]).allSatisfy(\.isSuccess))
        let afterReset = try CouchDBSearchIndex(path: path, source: store, pageSize: 50, logger: logger)
        #expect(try await afterReset.catchUp() == 1)
        #expect(try await afterReset.packageRecords(matching: "pad", limit: 10).map(\.id) == ["after-reset"])
        #expect(afterReset.progress.packagesCopied == 1)
    }

    /// Two writers updating the same documents at once: real 409s, resolved by re-reading revisions.
    static func concurrentWriters(_ store: CouchDBRecordStore, target: CouchDBTarget, database: String) async throws {
        try await store.prepare()
        let ids = (1...4).map { "pkg-\($0)" }
        let rounds = 3
        let writers = 2
        let results = try await withThrowingTaskGroup(of: [RecordWriteResult].self) { group in
            for writer in 0..<writers {
                let store = try target.makeStore(database: database) { $0.maxConflictRetries = 50 }
                group.addTask {
                    var all: [RecordWriteResult] = []
                    for round in 0..<rounds {
                        all += try await store.write(ids.map { RecordDocument(id: $0, body: ["writer": .number(Double(writer)), "round": .number(Double(round))]) })
                    }
                    return all
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        #expect(results.count == ids.count * rounds * writers)
        #expect(results.allSatisfy { $0.rev != nil }, "\(results)")
        let revisions = try await store.client.revisions(ids: ids)
        for id in ids {
            guard case .live(let rev) = revisions[id] else {
                Issue.record("no revision for \(id)")
                continue
            }
            #expect(generation(of: rev) == rounds * writers, "every write made one revision: \(id) \(rev)")
        }
    }

    /// The raw `_bulk_docs` answer, as in the recording: new, stale rev, current rev, never-seen rev.
    static func bulkDocsPerDocumentResults(_ store: CouchDBRecordStore) async throws {
        try await store.prepare()
        let rev1 = try #require(try await store.write([RecordDocument(id: "lodash", body: ["v": 1])]).first?.rev)
        let rev2 = try #require(try await store.write([RecordDocument(id: "lodash", body: ["v": 2])]).first?.rev)
        let results = try await store.client.bulkDocs([
            ["_id": "react", "v": 1],
            ["_id": "lodash", "_rev": .string(rev1), "v": "stale"],
            ["_id": "lodash", "_rev": .string(rev2), "v": 3],
            ["_id": "semver", "_rev": "1-00000000000000000000000000000000", "v": 1],
        ])
        #expect(results.map(\.id) == ["react", "lodash", "lodash", "semver"])
        #expect(results.map(\.error) == [nil, "conflict", nil, nil])
        #expect(results[1].reason == "Document update conflict.")
        #expect(results.map { generation(of: $0.rev) } == [1, nil, 3, 2])
        #expect(try await store.read(id: "lodash") == ["v": 3])

        // An id starting with "_" fails the whole request on CouchDB: the reason the store checks ids first.
        let whole = await #expect(throws: RecordStoreError.self) {
            _ = try await store.client.bulkDocs([["_id": "fine", "v": 1], ["_id": "_bad", "v": 1]])
        }
        #expect(whole?.code == .illegalDocID)
        #expect(whole?.status == 400)
        #expect(try await store.read(id: "fine") == nil)
    }

    static func readMissingAndMissingDatabase(_ store: CouchDBRecordStore, target: CouchDBTarget) async throws {
        try await store.prepare()
        #expect(try await store.read(id: "nope") == nil)
        #expect(try await store.read(id: "@scope/nope") == nil)

        let unprepared = try target.makeStore(database: CouchDBTarget.uniqueDatabaseName("never-created"))
        let countError = await #expect(throws: RecordStoreError.self) { _ = try await unprepared.count() }
        #expect(countError?.code == .notFound)
        let writeError = await #expect(throws: RecordStoreError.self) {
            _ = try await unprepared.write([RecordDocument(id: "x", body: [:])])
        }
        #expect(writeError?.code == .notFound)
        #expect(writeError?.isRetriable == false)
        let readError = await #expect(throws: RecordStoreError.self) { _ = try await unprepared.read(id: "x") }
        #expect(readError?.code == .notFound)
    }

    static func wrongPassword(_ store: CouchDBRecordStore, target: CouchDBTarget, database: String) async throws {
        try await store.prepare()
        let realPassword = try #require(target.password)
        let wrongPassword = realPassword + "-Wr0ng-\(UUID().uuidString.prefix(6))"
        let logs = CapturedLogs()
        let intruder = try target.makeStore(database: database, password: wrongPassword, logger: logs.logger())

        var errors: [RecordStoreError] = []
        // Few failed attempts: CouchDB 3.4+ locks a user out (per client address) after 5 failures by default.
        for operation in [
            { try await intruder.prepare() },
            { _ = try await intruder.write([RecordDocument(id: "x", body: ["v": 1])]) },
        ] as [@Sendable () async throws -> Void] {
            let error = await #expect(throws: RecordStoreError.self) { try await operation() }
            if let error { errors.append(error) }
        }
        #expect(errors.count == 2)
        #expect(errors.allSatisfy { $0.code == .unauthorized && $0.status == 401 && !$0.isRetriable })

        // Credentials in the URL: used, and removed from everything printed.
        var components = try #require(URLComponents(url: target.url, resolvingAgainstBaseURL: false))
        components.user = target.user
        components.password = wrongPassword
        let fromURL = try CouchDBConfiguration(url: try #require(components.url), database: database)
        #expect(fromURL.password == wrongPassword)
        let viaURL = CouchDBRecordStore(configuration: fromURL, logger: logs.logger())
        let urlError = await #expect(throws: RecordStoreError.self) { _ = try await viaURL.count() }
        #expect(urlError?.code == .unauthorized)
        if let urlError { errors.append(urlError) }

        let printed = errors.map { "\($0) \(String(reflecting: $0)) \($0.reason) \($0.operation ?? "")" }
            + logs.all + [fromURL.description, fromURL.url.absoluteString, String(describing: intruder.configuration)]
        #expect(!logs.all.isEmpty, "the store logs something to search")
        for text in printed {
            #expect(!text.contains(wrongPassword), "password printed: \(text)")
            #expect(!text.contains(realPassword), "password printed: \(text)")
        }
        #expect(try await store.count() == 0, "nothing was written with wrong credentials")
    }
}
