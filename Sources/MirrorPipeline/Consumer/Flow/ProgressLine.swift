import Logging

/// The consumer's periodic `Progress` line: what was done since the last one and how far behind
/// the group is, so a long backfill says what it is doing without a dashboard.
struct ProgressLine {
    var since: ContinuousClock.Instant
    var last: ConsumerProgress

    /// Logs a line when changes were done since the last one, or the topic holds changes not yet
    /// consumed; an idle consumer with nothing behind it stays quiet.
    mutating func log(_ progress: ConsumerProgress, lag: Int64?, now: ContinuousClock.Instant, to logger: Logger) {
        let done = progress.changesProcessed - last.changesProcessed
        let seconds = (now - since) / .seconds(1)
        defer { (since, last) = (now, progress) }
        guard done > 0 || (lag ?? 0) > 0 else { return }
        let rate = seconds > 0 ? Double(done) / seconds : 0
        var metadata: Logger.Metadata = [
            "changes": "\(progress.changesProcessed)",
            "changes_per_second": "\(Self.oneDecimal(rate))",
            "tarballs": "\(progress.tarballsStored)",
            "tarball_mb": "\(Self.oneDecimal(Double(progress.tarballBytes) / 1e6))",
            "in_flight": "\(progress.inFlight)",
            "parked": "\(progress.parked)",
        ]
        if let lag {
            metadata["lag"] = "\(lag)"
            if rate > 0 { metadata["eta_hours"] = "\(Self.oneDecimal(Double(lag) / rate / 3600))" }
        }
        if let seq = progress.highestCompleteSeq { metadata["npm.seq"] = "\(seq)" }
        logger.notice("Progress", metadata: metadata)
    }

    private static func oneDecimal(_ value: Double) -> String {
        "\((value * 10).rounded() / 10)"
    }
}

/// What a consumer has done so far, for progress lines and summaries.
public struct ConsumerProgress: Sendable, Hashable {
    public var changesProcessed = 0
    public var tarballsStored = 0
    public var tarballBytes: Int64 = 0
    /// The highest seq processed with everything before it in its partition.
    public var highestCompleteSeq: Int64?
    public var inFlight = 0
    /// Changes waiting out a backoff while their lanes go on.
    public var parked = 0
}
