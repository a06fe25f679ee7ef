import Foundation
import MirrorRecords
import Synchronization
import Testing

/// A record store underneath the batching one: SQLite on a temporary file, with every call to
/// `write` counted, optionally slowed down or failed.
private final class CountingStore: RecordStore {
    let base: SQLiteRecordStore
    let calls = Mutex<[Int]>([])
    let delay: Duration
    let failNext = Atomic<Int>(0)
    let inFlight = Atomic<Int>(0)
    let mostInFlight = Atomic<Int>(0)

    init(delay: Duration = .milliseconds(50)) throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("batching-\(UUID().uuidString).sqlite").path
        base = try SQLiteRecordStore(path: path)
        self.delay = delay
    }

    func write(_ documents: [RecordDocument]) async throws -> [RecordWriteResult] {
        calls.withLock { $0.append(documents.count) }
        let now = inFlight.add(1, ordering: .relaxed).newValue
        mostInFlight.max(now, ordering: .relaxed)
        defer { inFlight.subtract(1, ordering: .relaxed) }
        try await Task.sleep(for: delay)
        if failNext.load(ordering: .relaxed) > 0 {
            failNext.subtract(1, ordering: .relaxed)
            throw RecordStoreError.invalidResponse("injected failure", operation: nil)
        }
        return try await base.write(documents)
    }

    func prepare() async throws { try await base.prepare() }
    func read(id: String) async throws -> JSONValue? { try await base.read(id: id) }
    func count() async throws -> Int { try await base.count() }
    func records(after: String?, before: String?, limit: Int) async throws -> [StoredRecord] { try await base.records(after: after, before: before, limit: limit) }
}

@Suite("group commit of records")
struct BatchingRecordStoreTests {
    private func documents(_ caller: Int) -> [RecordDocument] {
        [
            RecordDocument(id: "package-\(caller)", body: ["caller": .number(Double(caller))]),
            RecordDocument(id: "change:\(caller)", body: ["caller": .number(Double(caller))], policy: .createOnly),
        ]
    }

    @Test("concurrent callers share requests and each gets the results of its own documents")
    func sharesRequests() async throws {
        let counting = try CountingStore()
        try await counting.prepare()
        let store = BatchingRecordStore(counting)
        // Caller 0's change record exists already: its result must say so, and no one else's.
        _ = try await counting.base.write([RecordDocument(id: "change:0", body: [:], policy: .createOnly)])
        let results = try await withThrowingTaskGroup(of: (Int, [RecordWriteResult]).self) { group in
            for caller in 0..<20 {
                group.addTask { (caller, try await store.write(documents(caller))) }
            }
            return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
        }
        for caller in 0..<20 {
            let own = try #require(results[caller])
            #expect(own.count == 2)
            #expect(own[0].isSuccess)
            if caller == 0 {
                #expect(own[1] == .alreadyExists)
            } else if case .written = own[1] {
            } else {
                Issue.record("caller \(caller) got \(own[1]), another caller's result")
            }
        }
        let calls = counting.calls.withLock { $0 }
        #expect(calls.reduce(0, +) == 40)
        #expect(calls.count < 20, "20 concurrent callers were written in \(calls.count) requests")
        #expect(counting.mostInFlight.load(ordering: .relaxed) <= store.maxConcurrentWrites)
        #expect(try await counting.count() == 40)
        let seventh = try await store.read(id: "package-7")
        #expect(seventh?["caller"] == .number(7))
    }

    @Test("a batch never holds more than maxDocuments, and a caller's documents are never split")
    func boundedBatches() async throws {
        let counting = try CountingStore()
        try await counting.prepare()
        let store = BatchingRecordStore(counting, maxDocuments: 5, maxConcurrentWrites: 3)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for caller in 0..<30 {
                group.addTask { _ = try await store.write(documents(caller)) }
            }
            try await group.waitForAll()
        }
        let calls = counting.calls.withLock { $0 }
        #expect(calls.allSatisfy { $0 <= 4 && $0 % 2 == 0 }, "batch sizes \(calls)")
        #expect(counting.mostInFlight.load(ordering: .relaxed) == 3, "three writes at once, no more")
        #expect(try await counting.count() == 60)
    }

    @Test("when a batch fails, every caller in it gets the error and can write again")
    func failureReachesEveryCaller() async throws {
        let counting = try CountingStore(delay: .milliseconds(100))
        try await counting.prepare()
        let store = BatchingRecordStore(counting, maxConcurrentWrites: 1)
        // The first call fails: the lone first caller; the ones queued behind it go in the next batch.
        counting.failNext.store(1, ordering: .relaxed)
        let outcomes = await withTaskGroup(of: Bool.self) { group in
            for caller in 0..<6 {
                group.addTask {
                    do {
                        _ = try await store.write(documents(caller))
                        return true
                    } catch {
                        return false
                    }
                }
            }
            return await group.reduce(into: [Bool]()) { $0.append($1) }
        }
        let failed = outcomes.filter { !$0 }.count
        let firstBatch = try #require(counting.calls.withLock { $0.first })
        #expect(failed == firstBatch / 2, "every caller of the failed batch, and only they, saw the error")
        // Writing again after the failure works, and the store is usable by the next callers.
        for caller in 0..<6 { _ = try await store.write(documents(caller)) }
        #expect(try await counting.count() == 12)
    }

    @Test("a lone caller is written at once, with its documents in order")
    func loneCaller() async throws {
        let counting = try CountingStore(delay: .zero)
        try await counting.prepare()
        let store = BatchingRecordStore(counting)
        let results = try await store.write([
            RecordDocument(id: "same", body: ["n": 1]),
            RecordDocument(id: "same", body: ["n": 2]),
        ])
        #expect(results.allSatisfy { $0.isSuccess })
        let stored = try await store.read(id: "same")
        #expect(stored?["n"] == .number(2))
        let none = try await store.write([])
        #expect(none.isEmpty)
        #expect(counting.calls.withLock { $0 } == [2])
    }
}
