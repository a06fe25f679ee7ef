import MirrorJSON
import Synchronization

/// Writes the documents of concurrent callers together ("group commit").
///
/// A caller that finds fewer than ``maxConcurrentWrites`` writes in progress writes at once, so a
/// lone change never waits. When that many are in progress, the callers that arrive queue up; when
/// one write is done, the first of them writes everything queued (up to ``maxDocuments``) in one
/// call to the store underneath. Under load the store sees one request pair per group of changes
/// instead of one per change, and no timer adds latency.
///
/// Each caller gets the results of its own documents, in its order, as if it had written alone.
/// When the write of a batch throws, every caller in it gets the error and, as ``RecordStore/write(_:)``
/// says, writes its documents again. Within a batch, repeated ids are applied in order (as the
/// store underneath does); callers writing the same id at the same time are not ordered, as with
/// any concurrent writes (the consumer never does: one lane per package).
public final class BatchingRecordStore: RecordStore {
    private struct Waiter {
        var documents: [RecordDocument]
        var continuation: CheckedContinuation<Turn, Never>
    }

    /// What a queued caller is woken with: its results, or a batch to write (its own documents first).
    private enum Turn {
        case done(Result<[RecordWriteResult], any Error>)
        case lead([Waiter])
    }

    /// Invariant: callers wait in `queue` only while `writing == maxConcurrentWrites`.
    private struct State {
        var writing = 0
        var queue: [Waiter] = []

        /// Takes callers off the queue, in arrival order, while the batch stays within `maxDocuments`
        /// (always at least the first).
        mutating func takeBatch(maxDocuments: Int) -> [Waiter] {
            var count = 0
            var taken = 0
            for waiter in queue {
                if taken > 0 && count + waiter.documents.count > maxDocuments { break }
                count += waiter.documents.count
                taken += 1
            }
            let batch = Array(queue.prefix(taken))
            queue.removeFirst(taken)
            return batch
        }
    }

    public let base: any RecordStore
    /// The most documents written in one call (a caller's own documents are never split).
    public let maxDocuments: Int
    /// The most calls in progress on the store underneath at once.
    public let maxConcurrentWrites: Int
    private let state = Mutex(State())

    public init(_ base: any RecordStore, maxDocuments: Int = 200, maxConcurrentWrites: Int = 2) {
        precondition(maxDocuments > 0 && maxConcurrentWrites > 0, "maxDocuments and maxConcurrentWrites must be positive")
        self.base = base
        self.maxDocuments = maxDocuments
        self.maxConcurrentWrites = maxConcurrentWrites
    }

    public func write(_ documents: [RecordDocument]) async throws -> [RecordWriteResult] {
        guard !documents.isEmpty else { return [] }
        let turn: Turn = await withCheckedContinuation { continuation in
            let batch: [Waiter]? = state.withLock { state in
                state.queue.append(Waiter(documents: documents, continuation: continuation))
                guard state.writing < maxConcurrentWrites else { return nil }
                state.writing += 1
                return state.takeBatch(maxDocuments: maxDocuments)
            }
            if let batch { continuation.resume(returning: .lead(batch)) }
        }
        switch turn {
        case .done(let result):
            return try result.get()
        case .lead(let batch):
            return try await write(batch)
        }
    }

    /// Writes a batch whose first caller is this one, hands each other caller its results, then
    /// gives the next queued batch to its first caller, or frees the slot.
    private func write(_ batch: [Waiter]) async throws -> [RecordWriteResult] {
        let combined = batch.flatMap(\.documents)
        let outcome: Result<[RecordWriteResult], any Error>
        do {
            let results = try await base.write(combined)
            outcome = results.count == combined.count
                ? .success(results)
                : .failure(RecordStoreError.invalidResponse("the store answered \(results.count) results for \(combined.count) documents", operation: nil))
        } catch {
            outcome = .failure(error)
        }
        var own: Result<[RecordWriteResult], any Error> = .success([])
        var offset = 0
        for (index, waiter) in batch.enumerated() {
            let slice = outcome.map { Array($0[offset..<offset + waiter.documents.count]) }
            offset += waiter.documents.count
            if index == 0 { own = slice } else { waiter.continuation.resume(returning: .done(slice)) }
        }
        let next: [Waiter]? = state.withLock { state in
            guard !state.queue.isEmpty else {
                state.writing -= 1
                return nil
            }
            return state.takeBatch(maxDocuments: maxDocuments)
        }
        if let next { next[0].continuation.resume(returning: .lead(next)) }
        return try own.get()
    }

    public func prepare() async throws { try await base.prepare() }
    public func read(id: String) async throws -> JSONValue? { try await base.read(id: id) }
    public func count() async throws -> Int { try await base.count() }
    public func records(after: String?, before: String?, limit: Int) async throws -> [StoredRecord] {
        try await base.records(after: after, before: before, limit: limit)
    }
    public func packageRecords(matching text: String, limit: Int) async throws -> [StoredRecord] {
        try await base.packageRecords(matching: text, limit: limit)
    }
}
