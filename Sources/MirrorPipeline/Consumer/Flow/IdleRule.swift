import MirrorKafka

/// When `--exit-when-idle D` may stop: a plain value fed with observations, so the rule is tested
/// without a broker.
///
/// Idle means the whole group is done, not this member: for every partition of the topic the
/// group's committed offset equals the high watermark (read from the broker), nothing is in flight
/// or parked here, and that has held for `idle`. A member with no partitions yet (the group is still
/// waiting out dead members' sessions) waits for the group. If this member has nothing to do and the
/// group's position stops moving without being drained for `waitBound`, the rule gives up, saying
/// which partitions were not drained.
struct IdleRule: Sendable {
    enum Decision: Sendable, Equatable {
        case keepGoing
        /// Drained and idle for `idle`: stop with success.
        case stop
        /// Not drained and no progress for `waitBound`: stop with this failure.
        case giveUp(String)
    }

    let idle: Duration
    /// How long the group may stand still, undrained, while this member has nothing to do.
    let waitBound: Duration

    private var drainedSince: ContinuousClock.Instant?
    private var waitingSince: ContinuousClock.Instant?
    private var lastUncommitted: Int64?

    init(idle: Duration, waitBound: Duration) {
        self.idle = idle
        self.waitBound = waitBound
    }

    /// The default bound: three session timeouts (dead members leave after one, the rebalance and
    /// the catch-up take the rest) plus the idle time itself.
    static func waitBound(sessionTimeout: Duration, idle: Duration) -> Duration {
        sessionTimeout * 3 + idle
    }

    /// `busy`: this member has changes in flight or parked, or received some within `idle`.
    /// `positions`: the group's positions on every partition, nil when they could not be read.
    mutating func observe(now: ContinuousClock.Instant, busy: Bool, positions: [KafkaGroupPosition]?) -> Decision {
        if busy {
            drainedSince = nil
            waitingSince = nil
            lastUncommitted = nil
            return .keepGoing
        }
        guard let positions else {
            drainedSince = nil
            return .keepGoing
        }
        let uncommitted = positions.reduce(0) { $0 + $1.uncommitted }
        if uncommitted == 0 {
            waitingSince = nil
            lastUncommitted = 0
            let since = drainedSince ?? now
            drainedSince = since
            return now - since >= idle ? .stop : .keepGoing
        }
        drainedSince = nil
        if uncommitted != lastUncommitted { waitingSince = now }
        lastUncommitted = uncommitted
        let since = waitingSince ?? now
        waitingSince = since
        guard now - since >= waitBound else { return .keepGoing }
        let behind = positions.filter { !$0.isDrained }.map { position in
            "\(position.partition.topic)[\(position.partition.partition)] committed \(position.committed.map(String.init) ?? "nothing") of \(position.watermarks.high)"
        }
        return .giveUp(
            "the group did not drain the topic: \(uncommitted) messages uncommitted and no progress for \(waitBound) "
                + "(\(behind.joined(separator: ", "))); members that died keep their partitions until their session timeout"
        )
    }
}
