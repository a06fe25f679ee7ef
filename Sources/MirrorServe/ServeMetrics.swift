import CoreMetrics
import Metrics

/// The registry server's metrics. Label values are bounded: routes, status classes, results; never
/// package names.
///
/// - `npm_mirror_serve_requests_total{route,status}`: answers by route (`packument`, `version`,
///   `tarball`, `search`, `ping`, `audit`, `keys`, `attestations`, `root`, `web`, `rejected`,
///   `not_found`) and status class (`2xx` …).
/// - `npm_mirror_serve_not_modified_total{route}`: the 304s among them.
/// - `npm_mirror_serve_response_bytes_total{route}`: body bytes sent.
/// - `npm_mirror_serve_request_duration_seconds{route}`: time to the response head (histogram).
/// - `npm_mirror_serve_fast_path_total{route}`: the answers the fast path gave (on the event loop,
///   from its cache or by `sendfile`), among the requests above.
/// - `npm_mirror_serve_derivations_total{result}` and `npm_mirror_serve_derivation_duration_seconds`:
///   served documents derived from a packument (`derived`, `failed`).
///
/// Every handle is made once, here: a request costs a dictionary lookup and a few atomic adds, not
/// a trip through the metrics factory's lock.
struct ServeMetrics: Sendable {
    let factory: any MetricsFactory

    static let routes = ["packument", "version", "tarball", "search", "ping", "audit", "keys", "attestations", "root", "web", "rejected", "not_found"]
    static let statusClasses = ["1xx", "2xx", "3xx", "4xx", "5xx"]

    /// The handles of one route.
    struct RouteHandles: Sendable {
        let requests: [Counter]
        let notModified: Counter
        let bytes: Counter
        let duration: Timer
        let fastPath: Counter
    }

    private let handles: [String: RouteHandles]
    private let derived: Counter
    private let failed: Counter
    private let derivationDuration: Timer

    init(factory: any MetricsFactory) {
        self.factory = factory
        var handles: [String: RouteHandles] = [:]
        for route in Self.routes { handles[route] = Self.makeHandles(route: route, factory: factory) }
        self.handles = handles
        derived = Counter(label: "npm_mirror_serve_derivations_total", dimensions: [("result", "derived")], factory: factory)
        failed = Counter(label: "npm_mirror_serve_derivations_total", dimensions: [("result", "failed")], factory: factory)
        derivationDuration = Timer(label: "npm_mirror_serve_derivation_duration_seconds", preferredDisplayUnit: .seconds, factory: factory)
        // Series with known label values start at 0, so rates see them before the first request.
        for handle in handles.values {
            handle.requests[1].increment(by: 0)
            handle.notModified.increment(by: 0)
            handle.bytes.increment(by: 0)
            handle.fastPath.increment(by: 0)
        }
        derived.increment(by: 0)
        failed.increment(by: 0)
    }

    private static func makeHandles(route: String, factory: any MetricsFactory) -> RouteHandles {
        RouteHandles(
            requests: statusClasses.map { Counter(label: "npm_mirror_serve_requests_total", dimensions: [("route", route), ("status", $0)], factory: factory) },
            notModified: Counter(label: "npm_mirror_serve_not_modified_total", dimensions: [("route", route)], factory: factory),
            bytes: Counter(label: "npm_mirror_serve_response_bytes_total", dimensions: [("route", route)], factory: factory),
            duration: Timer(label: "npm_mirror_serve_request_duration_seconds", dimensions: [("route", route)], preferredDisplayUnit: .seconds, factory: factory),
            fastPath: Counter(label: "npm_mirror_serve_fast_path_total", dimensions: [("route", route)], factory: factory)
        )
    }

    /// One answer: its route, status code and body size; `fastPath` when the fast path gave it.
    func request(route: String, status: Int, bytes: Int, since start: ContinuousClock.Instant, fastPath: Bool = false) {
        let handle = handles[route] ?? Self.makeHandles(route: route, factory: factory)
        handle.requests[min(max(status / 100, 1), 5) - 1].increment()
        if status == 304 { handle.notModified.increment() }
        if bytes > 0 { handle.bytes.increment(by: bytes) }
        if fastPath { handle.fastPath.increment() }
        handle.duration.record(duration: ContinuousClock.now - start)
    }

    func derivation(result: String, since start: ContinuousClock.Instant) {
        (result == "derived" ? derived : failed).increment()
        derivationDuration.record(duration: ContinuousClock.now - start)
    }
}
