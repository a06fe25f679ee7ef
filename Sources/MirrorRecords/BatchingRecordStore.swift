import Synchronization

/// Writes the documents of concurrent callers together ("group commit").
///
/// A caller that finds nothing being written writes at once, so a lone change never waits. While a
/// batch is being written, the callers that arrive queue up; when it is done, the first of them
/// writes everything queued (up to ``maxDocuments``) in one call to the store underneath. Under load
/// the store sees one request pair per group of changes instead of one per change, and no timer
/// adds latency.
///
/// Each caller gets the results of its own documents, in its order, as if it had written alone.
/// When the write of a batch throws, every caller in it gets the error and, as ``RecordStore/write(_:)``
/// says, writes its documents again. Documents of different callers with the same id keep their
/// order: the store underneath applies a batch's repeated ids in order.
public final class BatchingRecordStore: RecordStore {
    private struct Waiter {
        var documents: [RecordDocument]
        var continuation: CheckedContinuation<Turn, Never>
    }

    /// What a queued caller is woken with: its results, or the job of writing the next batch.
    private enum Turn {
        case done(Result<[RecordWriteResult], any Error>)
        case lead
    }

    private struct State {
        var writing = false
        var queue: [Waiter] = []
    }

    public let base: any RecordStore
    /// The most documents written in one call (a caller's own documents are never split).
    public let maxDocuments: Int
    private let state = Mutex(State())

    public init(_ base: any RecordStore, maxDocuments: Int = 200) {
        precondition(maxDocuments > 0, "maxDocuments must be positive")
        self.base = base
        self.maxDocuments = maxDocuments
    }

    public func write(_ documents: [RecordDocument]) async throws -> [RecordWriteResult] {
        guard !documents.isEmpty else { return [] }
        let turn: Turn = await withCheckedContinuation { continuation in
            let leadsNow = state.withLock { state in
                state.queue.append(Waiter(documents: documents, continuation: continuation))
                guard !state.writing else { return false }
                state.writing = true
                return true
            }
            if leadsNow { continuation.resume(returning: .lead) }
        }
        switch turn {
        case .done(let result):
            return try result.get()
        case .lead:
            return try await writeBatch()
        }
    }

    /// Writes the queued batch (which holds the leader's documents, queued first), hands each caller
    /// its results, then passes the lead to the first caller still queued.
    private func writeBatch() async throws -> [RecordWriteResult] {
        let batch = takeBatch()
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
        // The first waiter of the batch is this caller (it queued itself before it was told to lead).
        var own: Result<[RecordWriteResult], any Error> = .success([])
        var offset = 0
        for (index, waiter) in batch.enumerated() {
            let slice = outcome.map { Array($0[offset..<offset + waiter.documents.count]) }
            offset += waiter.documents.count
            if index == 0 { own = slice } else { waiter.continuation.resume(returning: .done(slice)) }
        }
        let next: Waiter? = state.withLock { state in
            guard !state.queue.isEmpty else {
                state.writing = false
                return nil
            }
            return state.queue.first
        }
        next?.continuation.resume(returning: .lead)
        return try own.get()
    }

    /// Takes callers off the queue, in arrival order, while the batch stays within `maxDocuments`
    /// (always at least the first).
    private func takeBatch() -> [Waiter] {
        state.withLock { state in
            var count = 0
            var taken = 0
            for waiter in state.queue {
                if taken > 0 && count + waiter.documents.count > maxDocuments { break }
                count += waiter.documents.count
                taken += 1
            }
            let batch = Array(state.queue.prefix(taken))
            state.queue.removeFirst(taken)
            return batch
        }
    }

    public func prepare() async throws { try await base.prepare() }
    public func read(id: String) async throws -> JSONValue? { try await base.read(id: id) }
    public func count() async throws -> Int { try await base.count() }
    public func readAll(limit: Int) async throws -> [StoredRecord] { try await base.readAll(limit: limit) }
}
