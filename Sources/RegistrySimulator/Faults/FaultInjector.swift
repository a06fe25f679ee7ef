import Synchronization

/// Decides, per request, which fault (if any) applies. Seeded, so a sequence of
/// requests meets the same faults on every run.
final class FaultInjector: Sendable {
    private struct ActiveRule {
        var rule: FaultRule
        var skipped = 0
        var fired = 0
    }

    private struct State {
        var rules: [ActiveRule]
        var random: SplitMix64
        var firedCounts: [String: Int] = [:]
        /// At most this many faults in a row for one path (nil: no limit).
        var maxInARow: Int?
        /// Faults in a row per path, while `maxInARow` is set.
        var streaks: [String: Int] = [:]
    }

    private let state: Mutex<State>

    init(rules: [FaultRule], seed: UInt64) {
        self.state = Mutex(State(rules: rules.map { ActiveRule(rule: $0) }, random: SplitMix64(seed: seed, stream: "faults")))
    }

    /// The fault to apply to this request, consuming one firing of its rule.
    func fault(for target: FaultTarget, path: String) -> FaultRule? {
        self.state.withLock { state in
            if let limit = state.maxInARow {
                if state.streaks[path, default: 0] >= limit {
                    state.streaks[path] = nil
                    return nil
                }
                let rule = Self.firing(&state, target: target, path: path)
                state.streaks[path] = rule == nil ? nil : state.streaks[path, default: 0] + 1
                return rule
            }
            return Self.firing(&state, target: target, path: path)
        }
    }

    /// Never more than `limit` faults in a row for one path: the next request of that path passes.
    func limitFaultsInARow(_ limit: Int?) {
        self.state.withLock { state in
            state.maxInARow = limit
            state.streaks.removeAll()
        }
    }

    private static func firing(_ state: inout State, target: FaultTarget, path: String) -> FaultRule? {
        for index in state.rules.indices where state.rules[index].rule.matches(target, path: path) {
            if state.rules[index].skipped < state.rules[index].rule.skip {
                state.rules[index].skipped += 1
                continue
            }
            let rule = state.rules[index].rule
            if rule.probability < 1 && !state.random.chance(rule.probability) {
                continue
            }
            state.rules[index].fired += 1
            state.firedCounts[rule.kind.rawValue, default: 0] += 1
            if let count = rule.count, state.rules[index].fired >= count {
                state.rules.remove(at: index)
            }
            return rule
        }
        return nil
    }

    var rules: [FaultRule] {
        self.state.withLock { $0.rules.map(\.rule) }
    }

    /// How often each kind has fired since start (or the last reset).
    var firedCounts: [String: Int] {
        self.state.withLock { $0.firedCounts }
    }

    func add(_ rules: [FaultRule]) {
        self.state.withLock { $0.rules.append(contentsOf: rules.map { ActiveRule(rule: $0) }) }
    }

    func removeAll() {
        self.state.withLock { $0.rules.removeAll() }
    }

    func reset(seed: UInt64?) {
        self.state.withLock { state in
            state.rules.removeAll()
            state.firedCounts.removeAll()
            if let seed { state.random = SplitMix64(seed: seed, stream: "faults") }
        }
    }
}
