import Foundation
import Logging
import MirrorRecords
import MirrorRuntime
import MirrorStore
import Synchronization

/// The mirror at a glance, for the home page: counts over the package and change records (taken in
/// the background, page by page, at most once per interval: a page view never walks the records),
/// and the checkpoints read fresh.
final class MirrorOverview: Sendable {
    struct Counts: Sendable {
        var packages = 0
        var versionsHeld = 0
        var tarballBytes: Int64 = 0
        var verdicts: [String: Int] = [:]
        var deadLettered = 0
        var lastProcessedAt: String?
        var takenAt = Date()
        var took: Duration = .zero
    }

    private let records: (any RecordStore)?
    private let interval: Duration
    private let logger: Logger
    private struct State {
        var counts: Counts?
        var counting: Task<Void, Never>?
        var startedAt: ContinuousClock.Instant?
    }
    private let state = Mutex(State())

    init(records: (any RecordStore)?, interval: Duration, logger: Logger) {
        self.records = records
        self.interval = interval
        self.logger = logger
    }

    /// The last counts (nil before the first pass ends), starting a pass when none is running and the
    /// last one is older than the interval.
    func counts() -> Counts? {
        guard let records else { return nil }
        return state.withLock { state in
            let due = state.startedAt.map { ContinuousClock.now - $0 >= interval } ?? true
            if state.counting == nil, due {
                state.startedAt = .now
                state.counting = Task { [self] in
                    let counted = await Self.count(records, logger: logger)
                    self.state.withLock { state in
                        if let counted { state.counts = counted }
                        state.counting = nil
                    }
                }
            }
            return state.counts
        }
    }

    /// One pass over the package records, then the change records.
    private static func count(_ records: any RecordStore, logger: Logger) async -> Counts? {
        let start = ContinuousClock.now
        var counts = Counts()
        do {
            for try await page in records.packageRecordPages(pageSize: 500) {
                for record in page where record.body["type"]?.stringValue == "package" {
                    guard record.body["deleted"]?.boolValue != true, record.body["unpublished"]?.boolValue != true else { continue }
                    counts.packages += 1
                    if case .object(let stored)? = record.body["stored_versions"] {
                        counts.versionsHeld += stored.count
                        for version in stored.values { counts.tarballBytes += Int64(version["bytes"]?.intValue ?? 0) }
                    }
                    if case .object(let signatures)? = record.body["signatures"] {
                        for verdict in signatures.values.compactMap(\.stringValue) { counts.verdicts[verdict, default: 0] += 1 }
                    }
                    if let processed = record.body["processed_at"]?.stringValue, processed > (counts.lastProcessedAt ?? "") {
                        counts.lastProcessedAt = processed
                    }
                }
            }
            for try await page in records.changeRecordPages(pageSize: 500) {
                counts.deadLettered += page.filter { $0.body["outcome"]?.stringValue == "dead_lettered" }.count
            }
        } catch {
            logger.warning("Could not count the records for the home page; trying again later", metadata: ["error": "\(error)"])
            return nil
        }
        counts.took = ContinuousClock.now - start
        return counts
    }
}
