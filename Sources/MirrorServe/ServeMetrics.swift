import CoreMetrics
import Metrics

/// The registry server's metrics. Label values are bounded: routes, status classes, results; never
/// package names.
///
/// - `npm_mirror_serve_requests_total{route,status}`: answers by route (`packument`, `version`,
///   `tarball`, `search`, `ping`, `audit`, `rejected`, `not_found`) and status class (`2xx` …).
/// - `npm_mirror_serve_not_modified_total{route}`: the 304s among them.
/// - `npm_mirror_serve_response_bytes_total{route}`: body bytes sent.
/// - `npm_mirror_serve_request_duration_seconds{route}`: time to the response head (histogram).
/// - `npm_mirror_serve_derivations_total{result}` and `npm_mirror_serve_derivation_duration_seconds`:
///   served documents derived from a packument (`derived`, `failed`).
struct ServeMetrics: Sendable {
    let factory: any MetricsFactory

    static let routes = ["packument", "version", "tarball", "search", "ping", "audit", "rejected", "not_found"]

    init(factory: any MetricsFactory) {
        self.factory = factory
        // Series with known label values start at 0, so rates see them before the first request.
        for route in Self.routes {
            Counter(label: "npm_mirror_serve_requests_total", dimensions: [("route", route), ("status", "2xx")], factory: factory).increment(by: 0)
            Counter(label: "npm_mirror_serve_not_modified_total", dimensions: [("route", route)], factory: factory).increment(by: 0)
            Counter(label: "npm_mirror_serve_response_bytes_total", dimensions: [("route", route)], factory: factory).increment(by: 0)
        }
        for result in ["derived", "failed"] {
            Counter(label: "npm_mirror_serve_derivations_total", dimensions: [("result", result)], factory: factory).increment(by: 0)
        }
    }

    /// One answer: its route, status code and body size.
    func request(route: String, status: Int, bytes: Int, since start: ContinuousClock.Instant) {
        let statusClass = "\(min(max(status / 100, 1), 5))xx"
        Counter(label: "npm_mirror_serve_requests_total", dimensions: [("route", route), ("status", statusClass)], factory: factory).increment()
        if status == 304 {
            Counter(label: "npm_mirror_serve_not_modified_total", dimensions: [("route", route)], factory: factory).increment()
        }
        if bytes > 0 {
            Counter(label: "npm_mirror_serve_response_bytes_total", dimensions: [("route", route)], factory: factory).increment(by: bytes)
        }
        Timer(label: "npm_mirror_serve_request_duration_seconds", dimensions: [("route", route)], preferredDisplayUnit: .seconds, factory: factory)
            .record(duration: ContinuousClock.now - start)
    }

    func derivation(result: String, since start: ContinuousClock.Instant) {
        Counter(label: "npm_mirror_serve_derivations_total", dimensions: [("result", result)], factory: factory).increment()
        Timer(label: "npm_mirror_serve_derivation_duration_seconds", preferredDisplayUnit: .seconds, factory: factory)
            .record(duration: ContinuousClock.now - start)
    }
}
