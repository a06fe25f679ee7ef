import Foundation
import MirrorHarness
import MirrorConfig
import MirrorRecords
import MirrorServe
import Prometheus
import MirrorStore
import MirrorTestSupport
import Testing

private let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
private let mirrorExecutable = repositoryRoot.appendingPathComponent(".build/debug/npm-mirror").path

@Suite("npm-mirror serve: the command and its settings", .serialized, .timeLimit(.minutes(2)))
struct ServeCommandTests {
    @Test("SERVE_PORT, SERVE_HOST and PUBLIC_URL: defaults, sources, and clear errors")
    func settings() throws {
        let defaults = try ServeConfiguration(try MirrorConfiguration.load(sources: ConfigurationSources(environment: [:]) { _ in nil }))
        #expect(defaults.port == 4873 && defaults.host == "127.0.0.1" && defaults.publicURL == nil)
        let set = try ServeConfiguration(try MirrorConfiguration.load(sources: ConfigurationSources(
            environment: ["SERVE_PORT": "8080", "PUBLIC_URL": "https://npm.example.org/", "FETCH_TARBALLS": "false"],
            flags: [.serveHost: "0.0.0.0"]
        ) { _ in nil }))
        #expect(set.port == 8080 && set.host == "0.0.0.0" && set.publicURL == "https://npm.example.org" && !set.fetchTarballs)
        for (setting, value) in [("SERVE_PORT", "70000"), ("SERVE_PORT", "http"), ("PUBLIC_URL", "ftp://x"), ("PUBLIC_URL", "not a url")] {
            #expect(throws: ConfigurationError.self, "\(setting)=\(value)") {
                _ = try MirrorConfiguration.load(sources: ConfigurationSources(environment: [setting: value]) { _ in nil })
            }
        }
    }

    @Test("a store folder that does not exist is refused with a clear error")
    func missingStore() throws {
        let configuration = ServeConfiguration(storeDirectory: "/nonexistent/packages", scratchDirectory: "/tmp/scratch", shardLength: 2)
        let error = #expect(throws: ServeError.self) {
            _ = try RegistryServer(configuration: configuration, records: nil, metricsFactory: PrometheusMetricsFactory(registry: PrometheusCollectorRegistry()), logger: testLogger)
        }
        #expect(error?.description.contains("REMOTE_PACKAGE_DIR /nonexistent/packages is not a folder") == true)
    }

    @Test("npm-mirror serve --port answers /-/ping and stops with status 0 on SIGTERM")
    func command() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: mirrorExecutable), "build the executables first (swift build --build-tests does)")
        let store = try TestStore()
        try store.packument("foobar", rev: "1-a", try Fixtures.bytes("packument-foobar.json"))
        try store.tarball("foobar", "1.0.0", try Fixtures.bytes("foobar-1.0.0.tgz"))
        let port = try freePort()
        let work = try temporaryDirectory()
        let process = try await ChildProcess.start(
            mirrorExecutable,
            arguments: ["serve", "--port", String(port)],
            environment: [
                "PATH": "/usr/bin:/bin", "REMOTE_PACKAGE_DIR": store.root, "LOCAL_PACKAGE_DIR": store.store.scratch,
                "SUBDIRECTORY_HASH_LENGTH": "2", "DBDATA_DIR": work + "/dbdata", "METRICS_PORT": "0", "LOG_LEVEL": "warning",
            ],
            logFile: work + "/serve.log",
            directory: work
        )
        defer { process.send(SIGKILL) }
        var ping: RawResponse?
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline, !process.hasEnded {
            if let response = try? await RawHTTP.request(port: port, "GET", "/-/ping"), response.status == 200 {
                ping = response
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        #expect(ping?.text == "{}")
        let packument = try await RawHTTP.request(port: port, "GET", "/foobar", headers: [("Accept", "application/vnd.npm.install-v1+json")])
        #expect(packument.status == 200)
        #expect(try packument.json()["versions"]?["1.0.0"]?["dist"]?["tarball"] == .string("http://127.0.0.1:\(port)/foobar/-/foobar-1.0.0.tgz"))
        process.send(SIGTERM)
        let ended = try await process.wait(timeout: .seconds(30))
        #expect(ended.signal == nil, "still running 30 s after SIGTERM (killed)")
        #expect(ended.exitCode == 0)
    }
}

/// A port nothing listens on now.
func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
    }
    guard bound else { throw RawHTTP.Failure(description: "no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}
