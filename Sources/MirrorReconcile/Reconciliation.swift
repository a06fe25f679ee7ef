import CoreMetrics
import Logging
import MirrorRecords
import MirrorRuntime
import NPMRegistry

/// One reconciliation: the registry's list of every package (`_all_docs`, page by page) walked beside
/// the mirror's package records (page by page, in the same byte order), as a merge of two sorted
/// lists. Each package the registry lists is current, **missing** or **stale** (``ReconcileRule``);
/// each live record the registry does not list is **vanished**.
///
/// Memory holds one registry page and one page of records, whatever the size of either. After each
/// registry page, its missing and stale packages go to ``send`` (the changes topic, keyed by name,
/// so a consumer handles them like any change; nil: a dry run) and the position is checkpointed, so
/// an interrupted walk resumes after the last page it finished. A registry that fails is asked again
/// as every registry call is (``retrying(_:backoff:logger:metadata:count:isRetriable:cancelledByShutdown:_:)``),
/// at no more than ``Settings/requestsPerSecond``.
public struct Reconciliation: Sendable {
    public struct Settings: Sendable {
        /// Rows per `_all_docs` page (at most 10,000, the registry's limit).
        public var pageSize: Int = 10_000
        /// Records per page of the mirror's package records.
        public var recordPageSize: Int = 1_000
        /// Most `_all_docs` requests per second (nil: no limit).
        public var requestsPerSecond: Double? = 5

        public init() {}
    }

    /// Sends the missing and stale packages of one page as changes; nil for a dry run.
    public typealias Send = @Sendable (_ findings: [ReconcileFinding]) async throws -> Void

    let registry: ReplicateClient
    let records: any RecordStore
    let settings: Settings
    let send: Send?
    let checkpoints: ReconcileCheckpointFile?
    let metrics: ReconcileMetrics
    let logger: Logger

    public init(
        registry: ReplicateClient,
        records: any RecordStore,
        settings: Settings = Settings(),
        send: Send?,
        checkpoints: ReconcileCheckpointFile?,
        metrics: ReconcileMetrics,
        logger: Logger
    ) {
        self.registry = registry
        self.records = records
        self.settings = settings
        self.send = send
        self.checkpoints = checkpoints
        self.metrics = metrics
        self.logger = logger
    }

    /// Walks the whole list (from the checkpoint of an unfinished walk, unless `restart`) and returns
    /// the report; `progress` is called after every page. A graceful shutdown ends the walk after the
    /// page in flight: the report says `complete: false`, and the next run resumes.
    public func run(restart: Bool = false, progress: @Sendable (ReconcileReport) -> Void = { _ in }) async throws -> ReconcileReport {
        var report = ReconcileReport(dryRun: send == nil)
        if !restart, let saved = try checkpoints?.read(), !saved.complete, saved.dryRun == (send == nil) {
            report = saved
            logger.notice("Reconciliation resumes", metadata: ["reconcile.after": "\(saved.after ?? "")", "reconcile.listed": "\(saved.listed)"])
        } else {
            report.updateSeqAtStart = try? await registry.root().updateSeq
            logger.notice("Reconciliation starts", metadata: ["reconcile.dry_run": "\(send == nil)", "npm.seq": "\(report.updateSeqAtStart.map(String.init) ?? "unknown")"])
        }
        let started = ContinuousClock.now
        let earlierSeconds = report.seconds
        var mirror = RecordCursor(records: records, after: report.after, pageSize: settings.recordPageSize)
        var backoff = Backoff(base: .seconds(1), cap: .seconds(60))
        var pacer = RequestPacer(requestsPerSecond: settings.requestsPerSecond)
        metrics.started(report)

        while true {
            await pacer.wait()
            let after = report.after
            let fetched = try await retrying(
                "read a page of the registry's list", backoff: &backoff, logger: logger, metadata: ["reconcile.after": "\(after ?? "")"],
                count: { _ in metrics.registryFailures.increment() },
                isRetriable: { ($0 as? RegistryError)?.isRetriable ?? false }
            ) { [registry, settings] in
                try await registry.allDocs(startAfter: after, limit: settings.pageSize)
            }
            guard let page = fetched else {
                logger.notice("Reconciliation interrupted; the next run resumes", metadata: ["reconcile.after": "\(after ?? "")"])
                break
            }
            report.pages += 1
            report.designDocuments += page.designRowsSkipped
            if let total = page.totalRows { report.registryTotalRows = total }

            var findings: [ReconcileFinding] = []
            var previous = after
            for row in page.rows {
                // The merge needs the list in id order: a registry that answers otherwise is not trusted.
                if let previous, !previous.utf8.lexicographicallyPrecedes(row.id.utf8) {
                    throw ReconcileError(message: "the registry's list is not in id order: \(row.id) after \(previous)")
                }
                previous = row.id
                // Every record before the row is one the registry does not list.
                while let record = try await mirror.next(before: row.id) {
                    if let vanished = ReconcileRule.unlisted(record) { findings.append(vanished) }
                }
                let record = try await mirror.take(row.id)
                if record != nil { report.matched += 1 }
                if let finding = ReconcileRule.compare(id: row.id, rev: row.rev, record: record) { findings.append(finding) }
                report.listed += 1
            }
            // The end of the list: every record left is one the registry does not list.
            if page.last == nil {
                while let record = try await mirror.next(before: nil) {
                    if let vanished = ReconcileRule.unlisted(record) { findings.append(vanished) }
                }
            }
            let toSend = findings.filter { $0.kind != .vanished }
            var sentNow = 0
            if let send, !toSend.isEmpty {
                guard
                    try await retrying("send \(toSend.count) reconciled changes", policy: .writes, logger: logger, { try await send(toSend) }) != nil
                else {
                    logger.notice("Reconciliation interrupted; the next run resumes", metadata: ["reconcile.after": "\(after ?? "")"])
                    break
                }
                sentNow = toSend.count
                report.sent += sentNow
            }
            report.record(findings)
            report.after = page.last ?? page.rows.last?.id ?? report.after
            report.complete = page.last == nil
            report.seconds = earlierSeconds + (ContinuousClock.now - started) / .seconds(1)
            try checkpoints?.write(report)
            metrics.page(report, sentNow: sentNow)
            progress(report)
            if report.complete { break }
        }
        metrics.finished(report)
        if report.complete {
            logger.notice(
                "Reconciliation complete",
                metadata: [
                    "reconcile.listed": "\(report.listed)", "reconcile.missing": "\(report.missing)", "reconcile.stale": "\(report.stale)",
                    "reconcile.vanished": "\(report.vanished)", "reconcile.sent": "\(report.sent)", "reconcile.coverage": "\(report.coverage)",
                ]
            )
        }
        return report
    }
}

/// A reconciliation that cannot go on: the registry's list is not what a list should be.
public struct ReconcileError: Error, CustomStringConvertible {
    public let message: String
    public var description: String { message }

    public init(message: String) {
        self.message = message
    }
}

/// The mirror's package records, read a page at a time in id order, consumed by the merge.
struct RecordCursor {
    let records: any RecordStore
    let pageSize: Int
    private var buffer: [StoredRecord] = []
    private var index = 0
    private var after: String?
    private var exhausted = false

    init(records: any RecordStore, after: String?, pageSize: Int) {
        self.records = records
        self.after = after
        self.pageSize = max(1, pageSize)
    }

    /// The next record, when it sorts before `id` (nil: any); nil otherwise or at the end.
    mutating func next(before id: String?) async throws -> StoredRecord? {
        guard let record = try await peek() else { return nil }
        if let id, !precedes(record.id, id) { return nil }
        index += 1
        return record
    }

    /// The next record when its id is `id` (taken), else nil (left for later).
    mutating func take(_ id: String) async throws -> StoredRecord? {
        guard let record = try await peek(), record.id == id else { return nil }
        index += 1
        return record
    }

    private mutating func peek() async throws -> StoredRecord? {
        if index < buffer.count { return buffer[index] }
        guard !exhausted else { return nil }
        buffer = try await records.packageRecords(after: after, limit: pageSize)
        index = 0
        if buffer.count < pageSize { exhausted = true }
        guard let last = buffer.last else { return nil }
        after = last.id
        return buffer[0]
    }

    /// Byte order of the UTF-8 ids: the order of `_all_docs` and of the record stores.
    private func precedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }
}

/// Spaces requests so that no more than `requestsPerSecond` start in any second.
struct RequestPacer {
    let interval: Duration?
    private var last: ContinuousClock.Instant?

    init(requestsPerSecond: Double?) {
        interval = requestsPerSecond.flatMap { $0 > 0 ? .seconds(1 / $0) : nil }
    }

    mutating func wait() async {
        defer { last = .now }
        guard let interval, let last else { return }
        let next = last + interval
        if next > .now { _ = await pauseUnlessShuttingDown(next - .now) }
    }
}
