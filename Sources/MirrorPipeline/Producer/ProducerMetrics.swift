import CoreMetrics
import Metrics

/// The producer's metrics. Names are Prometheus-style; labels take bounded values only.
struct ProducerMetrics: Sendable {
    let changesProduced: Counter
    let lastAcknowledgedSeq: Gauge
    let registryUpdateSeq: Gauge
    let lag: Gauge
    let watchdogRestarts: Counter
    let seqResets: Counter
    let pollDuration: Timer
    let pagesRetried: Counter
    private let factory: any MetricsFactory

    init(factory: any MetricsFactory) {
        self.factory = factory
        changesProduced = Counter(label: "npm_mirror_producer_changes_produced_total", factory: factory)
        lastAcknowledgedSeq = Gauge(label: "npm_mirror_producer_last_acknowledged_seq", factory: factory)
        registryUpdateSeq = Gauge(label: "npm_mirror_registry_update_seq", factory: factory)
        lag = Gauge(label: "npm_mirror_producer_lag", factory: factory)
        watchdogRestarts = Counter(label: "npm_mirror_producer_watchdog_restarts_total", factory: factory)
        seqResets = Counter(label: "npm_mirror_producer_seq_resets_total", factory: factory)
        pollDuration = Timer(label: "npm_mirror_producer_poll_duration_seconds", preferredDisplayUnit: .seconds, factory: factory)
        pagesRetried = Counter(label: "npm_mirror_producer_page_retries_total", factory: factory)
        // Series with known label values start at 0, so rates and alerts see them before the first event.
        for reason in ["missing_id", "missing_seq", "not_an_object"] {
            Counter(label: "npm_mirror_producer_changes_skipped_total", dimensions: [("reason", reason)], factory: factory).increment(by: 0)
        }
    }

    /// The registry's `update_seq` as just read: kept for the watchdog and exported.
    func registryHead(_ head: Int64, progress: ProducerProgress) {
        progress.registry(updateSeq: head)
        registryUpdateSeq.record(head)
    }

    /// A feed result or request that was set aside, by bounded reason.
    func skipped(reason: String) {
        Counter(label: "npm_mirror_producer_changes_skipped_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    func failure(reason: String) {
        Counter(label: "npm_mirror_producer_errors_total", dimensions: [("reason", reason)], factory: factory).increment()
    }
}
