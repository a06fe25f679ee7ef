import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import MirrorConfig
import MirrorEmbedded
import MirrorPipeline
import MirrorTestSupport
import Prometheus
import RegistrySimulator
import Testing


private let logger: Logger = {
    var logger = Logger(label: "operations-tests") { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = .error
    return logger
}()

private func toolExists(_ name: String) -> Bool {
    ["/usr/bin/", "/usr/local/bin/", "/bin/"].contains { FileManager.default.isExecutableFile(atPath: $0 + name) }
}


/// Mirrors a small simulated registry with a few faults, so that most series have samples, and
/// returns the mirror (its metrics registry holds what the services exported).
private func mirrorWithFaults() async throws -> EmbeddedMirror {
    var simulatorConfiguration = RegistrySimulator.Configuration()
    simulatorConfiguration.packages = 30
    simulatorConfiguration.seed = 21
    simulatorConfiguration.hugeTarballBytes = 2_000_000
    return try await withRegistrySimulator(configuration: simulatorConfiguration, logger: logger) { simulator in
        let victim = try #require(simulator.notablePackages.ordinary.first)
        simulator.faults.add([
            FaultRule(kind: .rateLimited, targets: [.changes], count: 1, retryAfterSeconds: 1),
            FaultRule(kind: .httpError, targets: [.packument], count: 1, status: 503),
            FaultRule(kind: .corruptTarball, targets: [.tarball], pathPrefix: "/\(victim)/-/"),
        ])
        let work = NSTemporaryDirectory() + "npm-mirror-ops-\(UUID().uuidString)"
        let configuration = try MirrorConfiguration.load(
            sources: ConfigurationSources(environment: [
                "NPM_REPLICATE_URL": simulator.replicateURL, "NPM_REGISTRY_URL": simulator.registryURL, "UPDATE_SEQ": "0",
                "UPDATE_SEQ_DIR": work + "/update_seq", "REMOTE_PACKAGE_DIR": work + "/packages", "LOCAL_PACKAGE_DIR": work + "/temp",
                "DBDATA_DIR": work + "/dbdata", "KAFKA_SESSION_TIMEOUT": "6s", "POLL_INTERVAL": "50ms", "MAX_SIZE": "1MB",
                "PROCESSING_RETRY_MAX": "2m",
            ]) { _ in nil }
        )
        let mirror = try EmbeddedMirror(configuration: configuration, consumers: 1, exitWhenCaughtUp: true, exitWhenIdle: .seconds(2), logger: logger)
        try await mirror.producer.producerService.run()
        try await mirror.consumers[0].runConsumer()
        await mirror.shutdownClients()
        return mirror
    }
}

@Suite("Operations: the Docker stack, Prometheus and Grafana files against the running services", .serialized, .timeLimit(.minutes(4)))
struct OperationsTests {
    @Test(
        "check-ops: compose, prometheus.yml, dashboard PromQL, scripts; every dashboard metric is exported",
        .enabled(if: toolExists("promtool"), "needs promtool (scripts/install-deps.sh --test installs it)")
    )
    func offlineChecksWithRealMetrics() async throws {
        let mirror = try await mirrorWithFaults()
        let scrape = NSTemporaryDirectory() + "npm-mirror-scrape-\(UUID().uuidString).txt"
        try mirror.metricsRegistry.emitToString().write(toFile: scrape, atomically: true, encoding: .utf8)
        let result = try await runToEnd(
            URL(fileURLWithPath: "/bin/bash"), [repositoryRoot.appendingPathComponent("scripts/check-ops.sh").path, "--metrics", scrape],
            in: repositoryRoot, mergingStandardError: true
        )
        #expect(result.status == 0, "\(result.output)")
    }

    @Test(
        "a real Prometheus scrapes the services' /metrics and the series arrive with sensible values",
        .enabled(if: toolExists("prometheus"), "needs Debian's prometheus (scripts/install-deps.sh --test installs it)")
    )
    func realScrape() async throws {
        let mirror = try await mirrorWithFaults()
        let endpoint = MetricsEndpoint(registry: mirror.metricsRegistry, host: "127.0.0.1", port: 0, logger: logger)
        let server = Task { try await endpoint.run() }
        defer { server.cancel() }
        let port = try #require(await endpoint.waitUntilListening())

        let work = NSTemporaryDirectory() + "npm-mirror-prometheus-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let prometheusPort = Int.random(in: 30_000...40_000)
        try """
        global:
          scrape_interval: 1s
        scrape_configs:
          - job_name: npm-mirror
            static_configs:
              - targets: ['127.0.0.1:\(port)']
        """.write(toFile: work + "/prometheus.yml", atomically: true, encoding: .utf8)
        let prometheus = Process()
        prometheus.executableURL = URL(fileURLWithPath: "/usr/bin/prometheus")
        prometheus.arguments = [
            "--config.file=\(work)/prometheus.yml", "--storage.tsdb.path=\(work)/data",
            "--web.listen-address=127.0.0.1:\(prometheusPort)",
        ]
        prometheus.standardOutput = FileHandle.nullDevice
        prometheus.standardError = FileHandle.nullDevice
        try prometheus.run()
        defer { prometheus.terminate() }

        func query(_ promql: String) async throws -> Double? {
            var components = URLComponents(string: "http://127.0.0.1:\(prometheusPort)/api/v1/query")!
            components.queryItems = [URLQueryItem(name: "query", value: promql)]
            let (data, _) = try await URLSession.shared.data(from: components.url!)
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            let result = ((object?["data"] as? [String: Any])?["result"] as? [[String: Any]])?.first
            return ((result?["value"] as? [Any])?.last as? String).flatMap(Double.init)
        }

        var up: Double?
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            try await Task.sleep(for: .seconds(1))
            up = try? await query(#"up{job="npm-mirror"}"#)
            if up == 1, (try? await query("npm_mirror_producer_changes_produced_total")) != nil { break }
        }
        #expect(up == 1)
        let produced = try await query("npm_mirror_producer_changes_produced_total")
        let stored = try await query(#"sum(npm_mirror_consumer_changes_total)"#)
        let head = try await query("npm_mirror_registry_update_seq")
        let acknowledged = try await query("npm_mirror_producer_last_acknowledged_seq")
        #expect((produced ?? 0) >= 30)
        #expect(stored == produced, "every produced change was consumed")
        #expect(acknowledged == head, "the producer caught up with the registry")
        #expect((try await query(#"npm_mirror_consumer_verification_failures_total{kind="integrity"}"#) ?? 0) >= 1)
        #expect((try await query(#"sum(npm_mirror_consumer_tarball_bytes_total)"#) ?? 0) > 100_000)
        #expect(try await query(#"count(npm_mirror_consumer_stage_duration_seconds_bucket)"#) ?? 0 > 0)
    }
}
