import CRdKafka
import Synchronization

/// Matches librdkafka's delivery reports to the batches that are waiting for them.
///
/// Each produced message carries an opaque value `(batch id << 32) | index in batch`, so a report
/// finds its batch and slot without any allocation per message.
final class DeliveryTracker: Sendable {
    struct Outcome: Sendable {
        var reports: [KafkaDeliveryReport?]
        var firstFailure: KafkaError?
        var failureCount = 0
    }

    private struct Batch {
        var expected: Int
        var settled = 0
        var outcome: Outcome
        var waiter: CheckedContinuation<Outcome, Never>?
    }

    private struct State {
        var nextBatchID: UInt32 = 1
        var batches: [UInt32: Batch] = [:]
    }

    private let state = Mutex(State())

    /// Opens a batch of `count` messages and returns its id.
    func open(count: Int) -> UInt32 {
        state.withLock { state in
            let id = state.nextBatchID
            state.nextBatchID = state.nextBatchID == UInt32.max ? 1 : state.nextBatchID + 1
            state.batches[id] = Batch(expected: count, outcome: Outcome(reports: Array(repeating: nil, count: count)))
            return id
        }
    }

    static func opaque(batch: UInt32, index: Int) -> UnsafeMutableRawPointer? {
        UnsafeMutableRawPointer(bitPattern: UInt(batch) << 32 | UInt(index))
    }

    /// Records one delivery report (called on the poll thread).
    func settle(opaque: UnsafeMutableRawPointer?, report: KafkaDeliveryReport, error: KafkaError?) {
        let bits = UInt(bitPattern: opaque)
        let batchID = UInt32(truncatingIfNeeded: bits >> 32)
        let index = Int(bits & 0xFFFF_FFFF)
        let waiter: (CheckedContinuation<Outcome, Never>, Outcome)? = state.withLock { state in
            // Taken out of the dictionary (not copied), so the reports array stays uniquely referenced and
            // is written in place: a copy here would make a batch of n messages cost n² to settle.
            guard var batch = state.batches.removeValue(forKey: batchID) else { return nil }
            guard index < batch.outcome.reports.count else {
                state.batches[batchID] = batch
                return nil
            }
            if let error {
                batch.outcome.failureCount += 1
                if batch.outcome.firstFailure == nil { batch.outcome.firstFailure = error }
            } else {
                batch.outcome.reports[index] = report
            }
            batch.settled += 1
            return Self.store(batch, id: batchID, in: &state)
        }
        if let (continuation, outcome) = waiter { continuation.resume(returning: outcome) }
    }

    /// Only the first `enqueued` messages of the batch were handed to librdkafka; the rest failed with `error`.
    func stopEnqueueing(batch batchID: UInt32, enqueued: Int, error: KafkaError) {
        let waiter: (CheckedContinuation<Outcome, Never>, Outcome)? = state.withLock { state in
            guard var batch = state.batches.removeValue(forKey: batchID) else { return nil }
            batch.outcome.failureCount += batch.expected - enqueued
            if batch.outcome.firstFailure == nil { batch.outcome.firstFailure = error }
            batch.expected = enqueued
            return Self.store(batch, id: batchID, in: &state)
        }
        if let (continuation, outcome) = waiter { continuation.resume(returning: outcome) }
    }

    /// Waits until every message of the batch is settled, then forgets the batch.
    func wait(batch batchID: UInt32) async -> Outcome {
        await withCheckedContinuation { continuation in
            let ready: Outcome? = state.withLock { state in
                guard var batch = state.batches.removeValue(forKey: batchID) else { return Outcome(reports: []) }
                if batch.settled >= batch.expected {
                    return batch.outcome
                }
                batch.waiter = continuation
                state.batches[batchID] = batch
                return nil
            }
            if let ready { continuation.resume(returning: ready) }
        }
    }

    /// Stores `batch`; if it is settled and someone waits, removes it and returns the waiter to resume
    /// (outside the lock).
    private static func store(
        _ batch: Batch, id: UInt32, in state: inout State
    ) -> (CheckedContinuation<Outcome, Never>, Outcome)? {
        if batch.settled >= batch.expected, let waiter = batch.waiter {
            state.batches[id] = nil
            return (waiter, batch.outcome)
        }
        state.batches[id] = batch
        return nil
    }
}
