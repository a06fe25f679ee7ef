import Synchronization

/// One served request, as the log keeps it.
public struct RequestRecord: Sendable, Hashable, Codable {
    /// `registry` or `replicate`.
    public var service: String
    public var method: String
    /// Path and query as received.
    public var uri: String
    /// `root`, `changes`, `all-docs`, `packument`, `tarball`, `keys`, `attestations`, `admin` or `other`.
    public var kind: String
    public var status: Int
    /// The fault applied, if any.
    public var fault: String?
}

/// Request counters, as `GET /-/admin/stats` returns them.
public struct RequestStats: Sendable, Hashable, Codable {
    /// Requests served (admin requests excluded).
    public var total: Int
    /// Requests per raw path (query excluded), e.g. `"/foo/-/foo-1.0.0.tgz": 2`.
    public var paths: [String: Int]
    /// Requests per kind: `root`, `changes`, `all-docs`, `packument`, `tarball`, `keys`, `attestations`, `other`.
    public var kinds: [String: Int]
    /// Requests per response status, as strings (`"200"`, `"429"`).
    public var statuses: [String: Int]
    /// Faults applied, per kind.
    public var faults: [String: Int]

    /// How many times `path` (query excluded) was requested.
    public func count(path: String) -> Int {
        self.paths[path] ?? 0
    }

    public func count(kind: FaultTarget) -> Int {
        self.kinds[kind.rawValue] ?? 0
    }
}

/// Counts requests per path, kind and status, and keeps the latest ones.
final class RequestLog: Sendable {
    private struct State {
        var total = 0
        var paths: [String: Int] = [:]
        var kinds: [String: Int] = [:]
        var statuses: [String: Int] = [:]
        var recent: [RequestRecord] = []
        var recentStart = 0
    }

    private let state = Mutex(State())
    let capacity: Int

    init(capacity: Int = 10_000) {
        self.capacity = capacity
    }

    func record(_ record: RequestRecord, path: String) {
        guard record.kind != "admin" else { return }
        self.state.withLock { state in
            state.total += 1
            state.paths[path, default: 0] += 1
            state.kinds[record.kind, default: 0] += 1
            state.statuses[String(record.status), default: 0] += 1
            if state.recent.count < self.capacity {
                state.recent.append(record)
            } else {
                state.recent[state.recentStart] = record
                state.recentStart = (state.recentStart + 1) % self.capacity
            }
        }
    }

    /// Requests served so far; cheap enough to poll.
    var total: Int {
        self.state.withLock { $0.total }
    }

    func stats(faults: [String: Int]) -> RequestStats {
        self.state.withLock { state in
            RequestStats(total: state.total, paths: state.paths, kinds: state.kinds, statuses: state.statuses, faults: faults)
        }
    }

    /// The latest `limit` requests, oldest first.
    func recent(limit: Int) -> [RequestRecord] {
        self.state.withLock { state in
            let ordered = Array(state.recent[state.recentStart...] + state.recent[..<state.recentStart])
            return Array(ordered.suffix(limit))
        }
    }

    func reset() {
        self.state.withLock { $0 = State() }
    }
}
