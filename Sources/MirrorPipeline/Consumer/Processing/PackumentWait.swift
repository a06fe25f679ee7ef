import CoreMetrics
import Logging
import MirrorJSON
import MirrorRuntime
import NIOCore
import NPMRegistry

/// Reads the packument a change announced, waiting (up to `REPLICA_LAG_WAIT`) while the registry's
/// replica lags behind the change: a 404 for a change that is not a deletion, or a revision older
/// than the change's.
///
/// Once the wait has begun, a passing registry failure (429 with its `Retry-After`, 5xx, a reset, a
/// timeout, a body cut short) only delays the next read: the wait keeps its deadline and what it has
/// seen so far, and only the deadline ends it. Before the wait begins, such a failure is thrown as a
/// retriable ``ProcessingFailure`` and the lane parks the change.
///
/// The wait also ends as soon as a later change of the same package has arrived (its ``Supersession``):
/// that change reads the current packument anyway.
struct PackumentWait: Sendable {
    /// What the wait found.
    enum Found: Sendable {
        /// The packument, at least as new as the change (or older, `stale`, after the whole wait).
        case packument(Packument, body: ByteBuffer, stale: Bool)
        /// 404 for a deletion: the package is gone.
        case gone
        /// A later change of the package arrived while waiting.
        case superseded
    }

    let packages: PackageClient
    let maxBytes: Int
    let wait: Duration
    /// Longest pause between two reads.
    let retryMax: Duration
    let metrics: ConsumerMetrics
    let logger: Logger

    /// What the last successful read showed, while waiting.
    private enum Seen {
        case nothing
        case missing
        case older(Packument, ByteBuffer)
    }

    func fetch(_ change: ChangeMessage, supersession: Supersession) async throws(ProcessingFailure) -> Found {
        let deadline = ContinuousClock.now + wait
        var backoff = Backoff(base: .milliseconds(200), cap: retryMax)
        let wanted = change.rev.flatMap(DocumentRevision.generation)
        var seen = Seen.nothing
        while true {
            let start = ContinuousClock.now
            let body: ByteBuffer
            do {
                body = try await packages.packument(change.id, maxBytes: maxBytes)
            } catch let error where error.code == .notFound {
                // Gone: a deletion, or a new package the replica has not seen yet.
                if change.deleted { return .gone }
                seen = .missing
                if ContinuousClock.now >= deadline { return try conclude(seen, change: change) }
                if try await pause(backoff.next(), until: supersession) { return .superseded }
                continue
            } catch let error where error.code == .tooLarge {
                throw ProcessingFailure(code: .packumentTooLarge, message: "the packument is larger than \(maxBytes) bytes", isRetriable: false)
            } catch {
                let failure = ProcessingFailure(registry: error)
                guard failure.isRetriable else { throw failure }
                // No wait under way: the lane parks the change and tries it again later.
                if case .nothing = seen { throw failure }
                // Inside the wait: retry this read; the wait keeps its deadline and what it saw.
                metrics.retry(reason: failure.code.description)
                if ContinuousClock.now >= deadline { return try conclude(seen, change: change) }
                if try await pause(backoff.next(retryAfter: error.retryAfter), until: supersession) { return .superseded }
                continue
            }
            metrics.stage("packument", since: start)
            metrics.packumentBytes.increment(by: Int64(body.readableBytes))
            let packument: Packument
            do {
                packument = try body.withUnsafeReadableBytes { bytes throws(PackumentError) in try Packument.parse(bytes, expectedName: change.id) }
            } catch {
                // A body cut off or mangled on the way looks the same as a bad document: read it again
                // while the wait lasts, then give up on it.
                if ContinuousClock.now < deadline {
                    metrics.retry(reason: ProcessingFailure.Code.malformedPackument.description)
                    if try await pause(backoff.next(), until: supersession) { return .superseded }
                    continue
                }
                throw ProcessingFailure(code: .malformedPackument, message: error.description, isRetriable: false)
            }
            if let wanted, let have = packument.revGeneration, have < wanted {
                seen = .older(packument, body)
                if ContinuousClock.now < deadline {
                    metrics.retry(reason: "replica_lag")
                    if try await pause(backoff.next(), until: supersession) { return .superseded }
                    continue
                }
                return try conclude(seen, change: change)
            }
            return .packument(packument, body: body, stale: false)
        }
    }

    /// The wait is over: what the last good read showed decides.
    private func conclude(_ seen: Seen, change: ChangeMessage) throws(ProcessingFailure) -> Found {
        switch seen {
        case .older(let packument, let body):
            logger.warning(
                "The packument is older than the change; storing it as stale",
                metadata: ["npm.id": "\(change.id)", "npm.rev": "\(change.rev ?? "")", "packument.rev": "\(packument.rev ?? "")"]
            )
            return .packument(packument, body: body, stale: true)
        case .missing, .nothing:
            // Not a deletion, and still missing after the wait: a later change will say what became of it.
            throw ProcessingFailure(code: .packumentNotFound, message: "404 for a change that is not a deletion, after waiting \(wait)", isRetriable: false)
        }
    }

    /// Sleeps, but not past a later change of the package; true when one has arrived.
    private func pause(_ duration: Duration, until supersession: Supersession) async throws(ProcessingFailure) -> Bool {
        let superseded = await supersession.sleep(for: duration)
        if Task.isCancelled { throw ProcessingFailure(code: .cancelled, message: "cancelled", isRetriable: true) }
        return superseded
    }
}
