import CoreMetrics
import Foundation
import Metrics
import MirrorSignatures

/// The consumer's metrics. Label values are bounded: results, stages, reason codes; never names.
struct ConsumerMetrics: Sendable {
    let factory: any MetricsFactory
    let tarballsDownloaded: Counter
    let tarballBytes: Counter
    let packumentBytes: Counter
    let inFlight: Gauge
    /// Changes parked (waiting out a backoff while their lane goes on).
    let parked: Gauge
    let lag: Gauge
    let lastProcessedSeq: Gauge
    let lastChangeTime: Gauge
    /// Keys the registry's `/-/npm/v1/keys` serves that the mirror does not trust.
    let unknownRegistryKeys: Gauge
    /// Changes deleted from the topic (retention) before this member reached them (``OffsetGaps``).
    let missedChanges: Counter
    /// Queued and parked changes dropped because their partitions were revoked.
    let revokedChangesDropped: Counter
    /// Seconds since this member last completed a change (the stall watchdog's clock).
    let secondsSinceCompleted: Gauge

    init(factory: any MetricsFactory) {
        self.factory = factory
        tarballsDownloaded = Counter(label: "npm_mirror_consumer_tarballs_downloaded_total", factory: factory)
        tarballBytes = Counter(label: "npm_mirror_consumer_tarball_bytes_total", factory: factory)
        packumentBytes = Counter(label: "npm_mirror_consumer_packument_bytes_total", factory: factory)
        inFlight = Gauge(label: "npm_mirror_consumer_in_flight", factory: factory)
        parked = Gauge(label: "npm_mirror_consumer_parked", factory: factory)
        lag = Gauge(label: "npm_mirror_consumer_lag", factory: factory)
        lastProcessedSeq = Gauge(label: "npm_mirror_consumer_last_processed_seq", factory: factory)
        lastChangeTime = Gauge(label: "npm_mirror_consumer_last_change_timestamp_seconds", factory: factory)
        unknownRegistryKeys = Gauge(label: "npm_mirror_consumer_unknown_registry_keys", factory: factory)
        missedChanges = Counter(label: "npm_mirror_consumer_missed_changes_total", factory: factory)
        missedChanges.increment(by: 0)
        revokedChangesDropped = Counter(label: "npm_mirror_consumer_revoked_changes_dropped_total", factory: factory)
        revokedChangesDropped.increment(by: 0)
        secondsSinceCompleted = Gauge(label: "npm_mirror_consumer_seconds_since_completed", factory: factory)
        for target in ["store", "record"] {
            Counter(label: "npm_mirror_consumer_stale_writes_refused_total", dimensions: [("target", target)], factory: factory).increment(by: 0)
        }
        // Series with known label values start at 0, so rates and alerts see them before the first event.
        for result in ChangeResult.allCases {
            Counter(label: "npm_mirror_consumer_changes_total", dimensions: [("result", result.rawValue)], factory: factory).increment(by: 0)
        }
        for verdict in SignatureVerdict.allCases {
            Counter(label: "npm_mirror_consumer_signatures_total", dimensions: [("verdict", verdict.rawValue)], factory: factory).increment(by: 0)
        }
        for verdict in ProvenanceVerdict.allCases {
            Counter(label: "npm_mirror_consumer_provenance_total", dimensions: [("verdict", verdict.rawValue)], factory: factory).increment(by: 0)
        }
    }

    /// A change finished.
    func change(result: ChangeResult) {
        Counter(label: "npm_mirror_consumer_changes_total", dimensions: [("result", result.rawValue)], factory: factory).increment()
        lastChangeTime.record(Date().timeIntervalSince1970)
    }

    /// A write refused because the store (`store`) or the package record (`record`) already held a
    /// newer packument revision.
    func staleWriteRefused(target: String) {
        Counter(label: "npm_mirror_consumer_stale_writes_refused_total", dimensions: [("target", target)], factory: factory).increment()
    }

    /// A kept version's signature verdict: `verified`, `missing`, `unknown_key`, `expired_key`, `invalid`.
    func signature(verdict: String) {
        Counter(label: "npm_mirror_consumer_signatures_total", dimensions: [("verdict", verdict)], factory: factory).increment()
    }

    /// A kept version's provenance verdict: `verified`, `present_unverified`, `missing`, `invalid`.
    func provenance(verdict: String) {
        Counter(label: "npm_mirror_consumer_provenance_total", dimensions: [("verdict", verdict)], factory: factory).increment()
    }

    /// A tarball failed verification: `integrity` or an archive reason code.
    func verificationFailure(kind: String, reason: String) {
        Counter(label: "npm_mirror_consumer_verification_failures_total", dimensions: [("kind", kind), ("reason", reason)], factory: factory).increment()
    }

    /// A version was not stored, by bounded reason.
    func versionSkipped(reason: String) {
        Counter(label: "npm_mirror_consumer_versions_skipped_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    /// One document write: `written`, `already_exists` or a failure code.
    func recordWrite(result: String) {
        Counter(label: "npm_mirror_consumer_record_writes_total", dimensions: [("result", result)], factory: factory).increment()
    }

    func retry(reason: String) {
        Counter(label: "npm_mirror_consumer_retries_total", dimensions: [("reason", reason)], factory: factory).increment()
    }

    /// Time spent in one stage: `packument`, `tarball`, `verify`, `store`, `record`, `commit`.
    func stage(_ stage: String, since start: ContinuousClock.Instant) {
        Timer(label: "npm_mirror_consumer_stage_duration_seconds", dimensions: [("stage", stage)], preferredDisplayUnit: .seconds, factory: factory)
            .record(duration: ContinuousClock.now - start)
    }
}
