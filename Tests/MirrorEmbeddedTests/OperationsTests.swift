import AsyncHTTPClient
import CouchDBDouble
import Foundation
import MirrorHarness
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Logging
import MirrorConfig
import MirrorEmbedded
import MirrorPipeline
import MirrorRecords
import MirrorReconcile
import MirrorServe
import MirrorTestSupport
import NPMRegistry
import Prometheus
import RegistrySimulator
import MirrorRuntime
import Testing


private let logger: Logger = {
    var logger = Logger(label: "operations-tests") { StreamLogHandler.standardError(label: $0) }
    logger.logLevel = .error
    return logger
}()

/// A loopback TCP port nothing listens on now: bound to port 0, read back, closed.
private func freeLoopbackPort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw CocoaError(.fileNoSuchFile) }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) { pointer in
        pointer.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw CocoaError(.fileWriteUnknown) }
    return Int(UInt16(bigEndian: address.sin_port))
}

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
        // A dry-run reconciliation of the mirror against the registry's list, into the same registry.
        let report = try await Reconciliation(
            registry: ReplicateClient(baseURL: simulator.replicateURL, http: RegistryHTTP(client: .shared, timeout: .seconds(10), metrics: PrometheusMetricsFactory(registry: mirror.metricsRegistry))),
            records: mirror.records, send: nil, checkpoints: nil,
            metrics: ReconcileMetrics(factory: PrometheusMetricsFactory(registry: mirror.metricsRegistry)), logger: logger
        ).run()
        #expect(report.complete)
        return mirror
    }
}

/// Serves the mirror's store as `npm-mirror serve` does — with its records copied into a CouchDB
/// double, so search answers from the index serve keeps of a CouchDB — and asks it for a search (which
/// derives the served documents of the packages it lists), the first package's packument and a
/// ping; returns the server's metrics (Prometheus text). The dashboard's Serve row reads these: the
/// registry server exports them, not the producer and the consumers.
private func servedMetrics(of mirror: EmbeddedMirror) async throws -> String {
    try await withCouchDBDouble(adminUser: "admin", adminPassword: "ops-pw") { couch in
        var configuration = mirror.configuration
        configuration.serve.port = try freeLoopbackPort()
        configuration.records.couchDBURL = couch.url.absoluteString
        configuration.records.couchDBUser = "admin"
        configuration.records.couchDBPassword = "ops-pw"
        let (copy, _) = try configuration.records.openStore(logger: logger)
        try await copy.prepare()
        var packages = 0
        for try await page in mirror.records.recordPages(pageSize: 100) {
            let results = try await copy.write(page.map { RecordDocument(id: $0.id, body: $0.body) })
            let written = results.allSatisfy(\.isSuccess)
            #expect(written)
            packages += page.count { $0.isLivePackage }
        }
        let serve = try ServeApplication(configuration: configuration, logger: logger)
        #expect(serve.searchIndex != nil, "with COUCHDB_URL, serve keeps a search index")
        let server = Task { try await serve.run(logger: logger, signals: []) }
        defer { server.cancel() }

        let base = "http://\(configuration.serve.host):\(configuration.serve.port)"
        func get(_ path: String) async -> (status: Int, body: Data)? {
            guard let url = URL(string: base + path), let (body, response) = try? await URLSession.shared.data(from: url) else { return nil }
            return ((response as? HTTPURLResponse)?.statusCode ?? 0, body)
        }
        var ping = await get("/-/ping")
        let deadline = ContinuousClock.now + .seconds(30)
        while ping == nil, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(100))
            ping = await get("/-/ping")
        }
        try #require(ping != nil, "npm-mirror serve answers on \(base)")
        // 503 while the index is built (the first pass is quick here), then npm's shape.
        var search = await get("/-/v1/search?text=&size=5")
        while search?.status == 503, ContinuousClock.now < deadline + .seconds(30) {
            try await Task.sleep(for: .milliseconds(200))
            search = await get("/-/v1/search?text=&size=5")
        }
        let answer = try #require(search, "npm-mirror serve answers a search")
        #expect(answer.status == 200)
        let body = try JSONSerialization.jsonObject(with: answer.body) as? [String: Any]
        #expect(body?["total"] as? Int == packages, "every live package of the records is found through the index")
        let objects = body?["objects"] as? [[String: Any]] ?? []
        if let name = (objects.first?["package"] as? [String: Any])?["name"] as? String {
            _ = await get("/" + name.replacingOccurrences(of: "/", with: "%2f"))
        }
        return serve.metricsRegistry.emitToString()
    }
}

/// The `npm_mirror_*` names in `text`: each prefix with the identifier characters after it. With
/// `quoted`, only whole string literals (`"npm_mirror_…"`), as the sources name their metrics.
private func mirrorMetricNames(in text: String, quoted: Bool) -> Set<String> {
    var names: Set<String> = []
    for piece in text.components(separatedBy: quoted ? "\"npm_mirror_" : "npm_mirror_").dropFirst() {
        let rest = piece.prefix(while: { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_") })
        guard !rest.isEmpty, !quoted || piece.dropFirst(rest.count).first == "\"" else { continue }
        names.insert("npm_mirror_\(rest)")
    }
    return names
}

@Suite("Operations: the Docker stack, Prometheus and Grafana files against the running services", .serialized, .timeLimit(.minutes(4)))
struct OperationsTests {
    @Test(
        "check-ops: compose, prometheus.yml, dashboard PromQL, scripts; every dashboard metric is exported",
        .enabled(if: toolExists("promtool"), "needs promtool (scripts/install-deps.sh --test installs it)")
    )
    func offlineChecksWithRealMetrics() async throws {
        let mirror = try await mirrorWithFaults()
        let served = try await servedMetrics(of: mirror)
        let scrape = NSTemporaryDirectory() + "npm-mirror-scrape-\(UUID().uuidString).txt"
        // The producer's and consumer's /metrics, then the registry server's (`npm-mirror serve`).
        try (mirror.metricsRegistry.emitToString() + "\n" + served).write(toFile: scrape, atomically: true, encoding: .utf8)
        let result = try await runProgram(
            URL(fileURLWithPath: "/bin/bash"), [repositoryRoot.appendingPathComponent("scripts/check-ops.sh").path, "--metrics", scrape],
            in: repositoryRoot, mergingStandardError: true
        )
        #expect(result.status == 0, "\(result.output)")
    }

    @Test("library modules depend only downwards: records, serve and verify link neither librdkafka nor the pipeline (scripts/check-layering.py)")
    func layering() async throws {
        let result = try await runProgram(
            URL(fileURLWithPath: "/usr/bin/env"), ["python3", repositoryRoot.appendingPathComponent("scripts/check-layering.py").path],
            in: repositoryRoot, mergingStandardError: true
        )
        #expect(result.status == 0, "\(result.output)")
        #expect(result.output.contains("every one depends only downwards"))
    }

    @Test("every npm_mirror_* metric named in Sources/ is queried by a panel of the Grafana dashboard")
    func everyMetricIsOnTheDashboard() throws {
        let data = try Data(contentsOf: repositoryRoot.appendingPathComponent("grafana/dashboards/npm-mirror.json"))
        let object = try JSONSerialization.jsonObject(with: data)
        let dashboard = try #require(object as? [String: Any], "the dashboard is a JSON object")
        let topLevel = dashboard["panels"] as? [[String: Any]] ?? []
        let panels = topLevel + topLevel.flatMap { $0["panels"] as? [[String: Any]] ?? [] }  // also inside collapsed rows
        var queried: Set<String> = []
        for panel in panels {
            for target in panel["targets"] as? [[String: Any]] ?? [] {
                queried.formUnion(mirrorMetricNames(in: target["expr"] as? String ?? "", quoted: false))
            }
        }

        let sources = repositoryRoot.appendingPathComponent("Sources").path
        var named: Set<String> = []
        for file in try FileManager.default.subpathsOfDirectory(atPath: sources) where file.hasSuffix(".swift") {
            named.formUnion(mirrorMetricNames(in: try String(contentsOfFile: sources + "/" + file, encoding: .utf8), quoted: true))
        }
        #expect(named.count >= 30, "only \(named.count) npm_mirror_* metric names found in Sources/")
        // A histogram is queried through its series: _bucket, _sum or _count.
        let missing = named.filter { name in !["", "_bucket", "_sum", "_count"].contains { queried.contains(name + $0) } }.sorted()
        #expect(missing.isEmpty, "named in Sources/ but on no panel of grafana/dashboards/npm-mirror.json: \(missing.joined(separator: ", "))")
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
        // A port the kernel says is free now (a random one could be an ephemeral port in use).
        let prometheusPort = try freeLoopbackPort()
        try """
        global:
          scrape_interval: 1s
        scrape_configs:
          - job_name: npm-mirror
            static_configs:
              - targets: ['127.0.0.1:\(port)']
        """.write(toFile: work + "/prometheus.yml", atomically: true, encoding: .utf8)
        let prometheus = try await ChildProcess.start(
            "/usr/bin/prometheus",
            arguments: [
                "--config.file=\(work)/prometheus.yml", "--storage.tsdb.path=\(work)/data",
                "--web.listen-address=127.0.0.1:\(prometheusPort)",
            ],
            environment: ["PATH": "/usr/bin:/bin"],
            logFile: work + "/prometheus.log"
        )
        defer { prometheus.send(SIGKILL) }

        func query(_ promql: String) async throws -> Double? {
            var components = URLComponents(string: "http://127.0.0.1:\(prometheusPort)/api/v1/query")!
            components.queryItems = [URLQueryItem(name: "query", value: promql)]
            let (data, _) = try await URLSession.shared.data(from: components.url!)
            let object = try JSONSerialization.jsonObject(with: data) as? [String: Any]
            let result = ((object?["data"] as? [String: Any])?["result"] as? [[String: Any]])?.first
            return ((result?["value"] as? [Any])?.last as? String).flatMap(Double.init)
        }

        var up: Double?
        let deadline = ContinuousClock.now + .seconds(120)
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
