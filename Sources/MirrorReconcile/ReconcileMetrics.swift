import CoreMetrics
import Foundation

/// The reconciliation's metrics:
/// - `npm_mirror_reconcile_listed`, `_missing`, `_stale`, `_vanished` (gauges): the walk under way (or
///   the last one), so far;
/// - `npm_mirror_reconcile_coverage_ratio` (gauge): the share of listed packages the mirror holds at
///   the registry's revision or newer, set when a walk completes (the dashboard's coverage over time);
/// - `npm_mirror_reconcile_sent_total` (counter): missing and stale packages sent as changes;
/// - `npm_mirror_reconcile_pages_total` (counter) and `npm_mirror_reconcile_registry_failures_total`
///   (counter): `_all_docs` pages read, and failed reads retried;
/// - `npm_mirror_reconcile_runs_total{result}` (counter): walks ended `complete` or `interrupted`;
/// - `npm_mirror_reconcile_last_complete_timestamp_seconds` (gauge): when a walk last completed.
public struct ReconcileMetrics: Sendable {
    let listed: Gauge
    let missing: Gauge
    let stale: Gauge
    let vanished: Gauge
    let coverage: Gauge
    let sent: Counter
    let pages: Counter
    let registryFailures: Counter
    let lastComplete: Gauge
    let factory: any MetricsFactory

    public init(factory: any MetricsFactory) {
        self.factory = factory
        listed = Gauge(label: "npm_mirror_reconcile_listed", factory: factory)
        missing = Gauge(label: "npm_mirror_reconcile_missing", factory: factory)
        stale = Gauge(label: "npm_mirror_reconcile_stale", factory: factory)
        vanished = Gauge(label: "npm_mirror_reconcile_vanished", factory: factory)
        coverage = Gauge(label: "npm_mirror_reconcile_coverage_ratio", factory: factory)
        sent = Counter(label: "npm_mirror_reconcile_sent_total", factory: factory)
        pages = Counter(label: "npm_mirror_reconcile_pages_total", factory: factory)
        registryFailures = Counter(label: "npm_mirror_reconcile_registry_failures_total", factory: factory)
        lastComplete = Gauge(label: "npm_mirror_reconcile_last_complete_timestamp_seconds", factory: factory)
        for result in ["complete", "interrupted"] {
            Counter(label: "npm_mirror_reconcile_runs_total", dimensions: [("result", result)], factory: factory).increment(by: 0)
        }
        sent.increment(by: 0)
        pages.increment(by: 0)
        registryFailures.increment(by: 0)
    }

    func started(_ report: ReconcileReport) {
        show(report)
    }

    /// After a page: `sentNow` changes it sent.
    func page(_ report: ReconcileReport, sentNow: Int) {
        pages.increment()
        sent.increment(by: Int64(sentNow))
        show(report)
    }

    func finished(_ report: ReconcileReport) {
        show(report)
        Counter(label: "npm_mirror_reconcile_runs_total", dimensions: [("result", report.complete ? "complete" : "interrupted")], factory: factory).increment()
        if report.complete {
            coverage.record(report.coverage)
            lastComplete.record(Date().timeIntervalSince1970)
        }
    }

    private func show(_ report: ReconcileReport) {
        listed.record(report.listed)
        missing.record(report.missing)
        stale.record(report.stale)
        vanished.record(report.vanished)
    }
}
