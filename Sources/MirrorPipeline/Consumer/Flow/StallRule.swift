/// The stall watchdog's rule, a pure function of what it observes.
///
/// Its clock runs from the latest of: the last completed change, the last assignment, and the last
/// time this member had nothing to wait for (no partitions, no lag, or a parked change whose retry
/// is in the future — those waits are legitimate and bounded by `PROCESSING_RETRY_MAX`). When the
/// clock passes `timeout`, the member is stalled.
struct StallRule: Sendable {
    enum Decision: Sendable, Equatable {
        case fine
        case stalled(Duration)
    }

    let timeout: Duration
    /// The last time there was nothing to wait for.
    private(set) var settled: ContinuousClock.Instant
    private var reference: ContinuousClock.Instant

    init(timeout: Duration, start: ContinuousClock.Instant) {
        self.timeout = timeout
        self.settled = start
        self.reference = start
    }

    /// How long the clock has run at `now`, as of the last observation.
    func stalledFor(now: ContinuousClock.Instant) -> Duration {
        max(.zero, now - reference)
    }

    /// `lag` is nil when the broker could not say: then nothing is concluded either way.
    mutating func observe(
        now: ContinuousClock.Instant,
        lastCompleted: ContinuousClock.Instant,
        lastAssigned: ContinuousClock.Instant,
        assigned: Bool,
        lag: Int64?,
        parked: Int
    ) -> Decision {
        if !assigned || lag == 0 || parked > 0 { settled = now }
        reference = max(settled, lastCompleted, lastAssigned)
        guard lag != nil, now - reference >= timeout else { return .fine }
        return .stalled(now - reference)
    }
}
