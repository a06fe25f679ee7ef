import CouchDBDouble
import Foundation
import MirrorRecords
import Testing

@Suite("CouchDBRecordStore against the CouchDB double", .timeLimit(.minutes(1)))
struct CouchDBRecordStoreTests {
    @Test(arguments: StoreScenario.allCases)
    func scenario(_ scenario: StoreScenario) async throws {
        try await withDouble { target in
            try await scenario.run(on: target)
        }
    }
}

/// Scenarios that need the double's fault hooks.
@Suite("CouchDBRecordStore under faults (double only)", .timeLimit(.minutes(1)))
struct CouchDBRecordStoreFaultTests {
    @Test func conflictStormIsResolvedByReReadingTheRevision() async throws {
        try await withDouble { target in
            let double = try #require(target.double)
            try await target.withFreshDatabase("storm") { store, database in
                try await store.prepare()
                _ = try await store.write([RecordDocument(id: "lodash", body: ["v": 1])])
                double.conflictStorm(database: database, id: "lodash", writes: 3)
                double.clearRequestLog()

                let results = try await store.write([
                    RecordDocument(id: "lodash", body: ["v": 2]),
                    RecordDocument(id: "express", body: ["v": 1]),
                ])
                // 1 (ours) + 3 (someone else's) + 1 (ours, finally) = generation 5.
                #expect(results.map(\.generation) == [5, 1])
                #expect(try await store.read(id: "lodash") == ["v": 2])
                let log = double.requestLog
                #expect(log.filter { $0.hasSuffix("/_bulk_docs") }.count == 4, "\(log)")
                // The revision of lodash was known from the first write: no lookup before the first attempt.
                #expect(log.filter { $0.hasSuffix("/_all_docs") }.count == 3, "\(log)")
            }
        }
    }

    @Test func conflictPastTheBoundFailsThatDocumentOnly() async throws {
        try await withDouble { target in
            let double = try #require(target.double)
            let name = CouchDBTarget.uniqueDatabaseName("storm-bound")
            let store = try target.makeStore(database: name) { $0.maxConflictRetries = 2 }
            try await store.prepare()
            double.conflictStorm(database: name, id: "b", writes: 100)
            let results = try await store.write([
                RecordDocument(id: "a", body: ["v": 1]),
                RecordDocument(id: "b", body: ["v": 1]),
                RecordDocument(id: "c", body: ["v": 1]),
            ])
            #expect(results[0].generation == 1)
            #expect(results[1].failure?.code == .conflict)
            #expect(results[1].failure?.isRetriable == false)
            #expect(results[2].generation == 1)
            #expect(try await store.read(id: "a") == ["v": 1])
            #expect(try await store.read(id: "b") != ["v": 1], "b holds someone else's write")
        }
    }

    @Test func createOnlyThatLosesARaceIsAlreadyExists() async throws {
        try await withDouble { target in
            let double = try #require(target.double)
            try await target.withFreshDatabase("storm-create") { store, database in
                try await store.prepare()
                double.conflictStorm(database: database, id: "change-1", writes: 1)
                let results = try await store.write([
                    RecordDocument(id: "change-1", body: ["seq": 1], policy: .createOnly),
                    RecordDocument(id: "change-2", body: ["seq": 2], policy: .createOnly),
                ])
                #expect(results[0] == .alreadyExists)
                #expect(results[1].generation == 1)
                #expect(try await store.count() == 2)
            }
        }
    }

    @Test func perDocumentErrorIsReportedForThatDocument() async throws {
        try await withDouble { target in
            let double = try #require(target.double)
            try await target.withFreshDatabase("doc-error") { store, database in
                try await store.prepare()
                double.failDocument(database: database, id: "b", error: "forbidden", reason: "only admins may write b")
                let results = try await store.write([
                    RecordDocument(id: "a", body: ["v": 1]),
                    RecordDocument(id: "b", body: ["v": 1]),
                    RecordDocument(id: "c", body: ["v": 1]),
                ])
                #expect(results[0].generation == 1)
                #expect(results[1].failure?.code == .forbidden)
                #expect(results[1].failure?.reason == "only admins may write b")
                #expect(results[2].generation == 1)
                #expect(try await store.count() == 2)
                // Written again (the injected error was for one write): succeeds.
                #expect(try await store.write([RecordDocument(id: "b", body: ["v": 1])]).first?.generation == 1)
            }
        }
    }

    @Test func revisionsItWroteAndNewDocumentsNeedNoLookup() async throws {
        try await withDouble { target in
            let double = try #require(target.double)
            try await target.withFreshDatabase("requests") { store, database in
                try await store.prepare()
                _ = try await store.write((1...3).map { RecordDocument(id: "p\($0)", body: ["v": 1]) })
                double.clearRequestLog()
                let results = try await store.write((1...5).map { RecordDocument(id: "p\($0)", body: ["v": 2]) })
                #expect(results.map(\.generation) == [2, 2, 2, 1, 1])
                #expect(double.requestLog == ["POST /\(database)/_bulk_docs"])

                // Another store (another process) knows none of the revisions: CouchDB's conflicts send it
                // to one lookup for all of them, then one write; change records that exist are reported so.
                let other = try target.makeStore(database: database)
                double.clearRequestLog()
                let again = try await other.write((1...5).map { RecordDocument(id: "p\($0)", body: ["v": 3]) } + [RecordDocument(id: "change:1", body: [:], policy: .createOnly)])
                #expect(again.prefix(5).map(\.generation) == [3, 3, 3, 2, 2])
                #expect(again[5].generation == 1)
                #expect(double.requestLog == ["POST /\(database)/_bulk_docs", "POST /\(database)/_all_docs", "POST /\(database)/_bulk_docs"])
                double.clearRequestLog()
                let replay = try await other.write([RecordDocument(id: "change:1", body: [:], policy: .createOnly)])
                #expect(replay == [.alreadyExists])
                #expect(double.requestLog.isEmpty, "a create-only record it wrote itself needs no request")
            }
        }
    }

    @Test(arguments: [CouchDBDouble.Outage.refuseConnections, .closeConnections])
    func downIsRetriableUnavailableAndRecovers(_ outage: CouchDBDouble.Outage) async throws {
        try await withDouble { target in
            let double = try #require(target.double)
            let store = try target.makeStore(database: CouchDBTarget.uniqueDatabaseName("down")) {
                // Both outages fail at once (refused or closed connections): the deadline only has to
                // allow for a busy machine.
                $0.requestTimeout = .seconds(5)
                $0.retry = .init(maxAttempts: 2, initialBackoff: .milliseconds(10))
            }
            try await store.prepare()
            await double.goDown(outage)
            let error = await #expect(throws: RecordStoreError.self) {
                _ = try await store.write([RecordDocument(id: "a", body: ["v": 1])])
            }
            #expect(error?.code == .unavailable)
            #expect(error?.isRetriable == true)

            try await double.comeBack()
            #expect(try await store.write([RecordDocument(id: "a", body: ["v": 1])]).first?.generation == 1)
        }
    }

    @Test func slowServerTimesOutAsRetriable() async throws {
        try await withDouble { target in
            let double = try #require(target.double)
            // The database is made with the default deadline: a busy machine may take a while to answer.
            let database = CouchDBTarget.uniqueDatabaseName("slow")
            try await target.makeStore(database: database).prepare()
            let store = try target.makeStore(database: database) {
                $0.requestTimeout = .seconds(1)
                $0.retry = .none
            }
            double.setDelay(.seconds(4))
            let error = await #expect(throws: RecordStoreError.self) { _ = try await store.count() }
            #expect(error?.code == .unavailable)
            #expect(error?.isRetriable == true)
            #expect(error?.reason.contains("timed out") == true, "\(String(describing: error))")
            double.setDelay(nil)
            #expect(try await target.makeStore(database: database).count() == 0)
        }
    }

    @Test func serverErrorsAreRetriedWithinTheBound() async throws {
        try await withDouble { target in
            let double = try #require(target.double)
            let store = try target.makeStore(database: CouchDBTarget.uniqueDatabaseName("retry")) {
                $0.retry = .init(maxAttempts: 3, initialBackoff: .milliseconds(10))
            }
            double.failNextRequests(2, status: 503)
            try await store.prepare()
            #expect(double.requestLog.count == 3)
        }
    }

    @Test func serverErrorsPastTheBoundSurfaceAsRetriable() async throws {
        try await withDouble { target in
            let double = try #require(target.double)
            let store = try target.makeStore(database: CouchDBTarget.uniqueDatabaseName("retry-bound")) {
                $0.retry = .init(maxAttempts: 2, initialBackoff: .milliseconds(10))
            }
            double.failNextRequests(10, status: 500, error: "unknown_error", reason: "boom")
            let error = await #expect(throws: RecordStoreError.self) { try await store.prepare() }
            #expect(error?.code == .serverError)
            #expect(error?.status == 500)
            #expect(error?.reason == "boom")
            #expect(error?.isRetriable == true)
            #expect(double.requestLog.count == 2, "bounded: no retry past maxAttempts")
        }
    }
}
