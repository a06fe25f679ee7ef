/// The lag watchdog's decisions, kept apart from timers and I/O so they can be tested directly.
///
/// Every check gets the registry's `update_seq` and the producer's last acknowledged seq;
/// lag = update_seq − acknowledged. The first check sets the initial lag. The producer is restarted
/// when the lag exceeds initial + threshold, or when the acknowledged seq has not moved for
/// `stallChecks` checks in a row while `update_seq` has. A lag that falls below initial − threshold
/// becomes the new initial lag. After a restart the initial lag is measured again. More than
/// `maxRestarts` restarts within `window` means restarting does not help: give up, so the process
/// exits and an outer supervisor takes over.
public struct LagWatchdogPolicy: Sendable {
    public enum Verdict: Sendable, Hashable {
        case healthy
        case restart(reason: String)
        case giveUp(reason: String)
    }

    public let threshold: Int64
    public let stallChecks: Int
    public let maxRestarts: Int
    public let window: Duration

    public private(set) var initialLag: Int64?
    public private(set) var lastLag: Int64?
    private var lastAcknowledged: Int64?
    private var lastUpdateSeq: Int64?
    private var stalledChecks = 0
    private var restarts: [ContinuousClock.Instant] = []

    public init(threshold: Int64, stallChecks: Int, maxRestarts: Int, window: Duration) {
        self.threshold = threshold
        self.stallChecks = stallChecks
        self.maxRestarts = maxRestarts
        self.window = window
    }

    public mutating func check(updateSeq: Int64, acknowledged: Int64, now: ContinuousClock.Instant) -> Verdict {
        let lag = max(0, updateSeq - acknowledged)
        lastLag = lag
        defer {
            lastAcknowledged = acknowledged
            lastUpdateSeq = updateSeq
        }
        if let previousAcknowledged = lastAcknowledged, let previousUpdateSeq = lastUpdateSeq,
            acknowledged <= previousAcknowledged, updateSeq > previousUpdateSeq
        {
            stalledChecks += 1
        } else {
            stalledChecks = 0
        }
        guard let initial = initialLag else {
            initialLag = lag
            return .healthy
        }
        if lag > initial + threshold {
            return restart(now: now, reason: "lag \(lag) exceeds the initial lag \(initial) by more than \(threshold)")
        }
        if stalledChecks >= stallChecks {
            return restart(now: now, reason: "acknowledged seq stuck at \(acknowledged) for \(stalledChecks) checks while update_seq moved to \(updateSeq)")
        }
        if lag < initial - threshold {
            initialLag = lag
        }
        return .healthy
    }

    private mutating func restart(now: ContinuousClock.Instant, reason: String) -> Verdict {
        restarts = restarts.filter { now - $0 < window } + [now]
        initialLag = nil
        stalledChecks = 0
        if restarts.count > maxRestarts {
            return .giveUp(reason: "\(restarts.count) restarts within \(window); last: \(reason)")
        }
        return .restart(reason: reason)
    }
}
