/// Exponential backoff with full jitter, capped: 1×, 2×, 4× … the base, never above the cap. A
/// server's `Retry-After` wins when it asks for longer.
public struct Backoff: Sendable {
    public var base: Duration
    public var cap: Duration
    private var attempt = 0
    private var random: SplitMixRandom

    public init(base: Duration, cap: Duration, seed: UInt64 = UInt64.random(in: 0...UInt64.max)) {
        self.base = base
        self.cap = max(cap, base)
        self.random = SplitMixRandom(seed: seed)
    }

    /// The wait before the next attempt.
    public mutating func next(retryAfter: Duration? = nil) -> Duration {
        let ceiling = min(cap, base * (1 << min(attempt, 20)))
        attempt += 1
        // Between half the ceiling and the ceiling: spread out, but never a busy loop.
        let fraction = 0.5 + 0.5 * Double(random.next() % 1_000_000) / 1_000_000
        let wait = ceiling * fraction
        if let retryAfter, retryAfter > wait { return min(retryAfter, .seconds(3600)) }
        return wait
    }

    /// The number of waits handed out since the last reset.
    public var attempts: Int { attempt }

    /// Back to the base wait, after a success.
    public mutating func reset() { attempt = 0 }
}

/// A small deterministic generator (SplitMix64), so tests can fix the jitter and the reliability
/// suite can repeat its kill times from a seed.
public struct SplitMixRandom: RandomNumberGenerator, Sendable {
    private var state: UInt64
    public init(seed: UInt64) { state = seed }
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
