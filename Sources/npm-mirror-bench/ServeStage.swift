import AsyncHTTPClient
import Foundation
import Logging
import MirrorConfig
import Metrics
import MirrorHarness
import MirrorStore
import NIOCore
import NIOHTTP1
import NPMRegistry
import RegistrySimulator

/// One load run of wrk against one server.
struct LoadFigures: Codable, Sendable {
    var requestsPerSecond: Double
    var megabytesPerSecond: Double
    var p50Milliseconds: Double
    var p99Milliseconds: Double
    /// Non-2xx answers plus socket errors.
    var errors: Int
    /// The server's CPU seconds (user + system, from `/proc/<pid>/stat`) per 1,000 answers.
    var serverCPUSecondsPer1000: Double?
}

/// The `serve` stage: `npm-mirror serve` and nginx serving the same bytes, under the same load.
struct ServeFigures: Codable, Sendable {
    var packages: Int
    var hugePackumentBytes: Int
    var connections: Int
    var seconds: Int
    /// Abbreviated, gzip'd packuments, every package once per cycle, the huge one included.
    var mirrorPackuments: LoadFigures
    var nginxPackuments: LoadFigures
    /// Tarballs the mirror holds.
    var mirrorTarballs: LoadFigures
    var nginxTarballs: LoadFigures
    /// The huge packument's full document alone, uncompressed, under the same connections.
    var mirrorHuge: LoadFigures
    var nginxHuge: LoadFigures
    /// `npm-mirror serve`'s resident memory after the packument mix, after the huge packument under
    /// load, and its high-water mark.
    var rssAfterMixBytes: Int64
    var rssAfterHugeBytes: Int64
    var peakRSSBytes: Int64
    /// The huge package's web page (`/-/web/package/<name>`) under the same connections, and the
    /// resident memory after it.
    var mirrorHugePage: LoadFigures?
    var rssAfterHugePageBytes: Int64?
    /// The same three loads on `npm-mirror serve` with `SERVE_FAST_PATH=false` (every request
    /// through the framework's responder), for comparison.
    var slowPackuments: LoadFigures?
    var slowTarballs: LoadFigures?
    var slowHuge: LoadFigures?
    /// Smaller workloads, by name (`<server>-revalidate`: the mix with `If-Modified-Since` in the
    /// future, all 304; `<server>-ping`), for mirror, slow and nginx. (Not `HEAD`: wrk waits for the
    /// body a `Content-Length` announces, so it cannot load `HEAD`.)
    var other: [String: LoadFigures]?
    /// The slow-path server's RSS before and after the huge package's page under the same load.
    var slowRSSBeforePageBytes: Int64?
    var slowRSSAfterPageBytes: Int64?

    var packumentRatio: Double { mirrorPackuments.requestsPerSecond / max(nginxPackuments.requestsPerSecond, 1e-9) }
    var tarballRatio: Double { mirrorTarballs.megabytesPerSecond / max(nginxTarballs.megabytesPerSecond, 1e-9) }

    var table: String {
        func row(_ label: String, _ mirror: LoadFigures, _ nginx: LoadFigures) -> String {
            String(
                format: "  %-22@ mirror %9.0f req/s %8.1f MB/s p99 %8.1f ms %@| nginx %9.0f req/s %8.1f MB/s p99 %8.1f ms | %.2f× req/s",
                label as NSString, mirror.requestsPerSecond, mirror.megabytesPerSecond, mirror.p99Milliseconds,
                (mirror.serverCPUSecondsPer1000.map { String(format: "cpu %.3f s/1k ", $0) } ?? "") as NSString,
                nginx.requestsPerSecond, nginx.megabytesPerSecond, nginx.p99Milliseconds,
                mirror.requestsPerSecond / max(nginx.requestsPerSecond, 1e-9)
            )
        }
        let slowRows = [("packuments, slow path", slowPackuments), ("tarballs, slow path", slowTarballs), ("huge, slow path", slowHuge)]
            .compactMap { label, figures in figures.map { row(label, $0, label.hasPrefix("packuments") ? nginxPackuments : label.hasPrefix("tarballs") ? nginxTarballs : nginxHuge) } }
        return """
            serve stage: \(packages) packages, huge packument \(hugePackumentBytes >> 20) MB, \(connections) connections, \(seconds) s per run
            \(row("packuments (abbr, gz)", mirrorPackuments, nginxPackuments))
            \(row("tarballs", mirrorTarballs, nginxTarballs))
            \(row("huge packument", mirrorHuge, nginxHuge))
            \(slowRows.joined(separator: "\n"))
            \((other ?? [:]).sorted { $0.key < $1.key }.map { String(format: "  %-22@ %9.0f req/s p99 %8.1f ms %@errors %d", $0.key as NSString, $0.value.requestsPerSecond, $0.value.p99Milliseconds, ($0.value.serverCPUSecondsPer1000.map { String(format: "cpu %.3f s/1k ", $0) } ?? "") as NSString, $0.value.errors) }.joined(separator: "\n"))
            \(mirrorHugePage.map { String(format: "  %-22@ mirror %9.0f req/s %8.1f MB/s p99 %8.1f ms", "huge package's page" as NSString, $0.requestsPerSecond, $0.megabytesPerSecond, $0.p99Milliseconds) } ?? "")
              slow-path server RSS: \(String(format: "%.1f", Double(slowRSSBeforePageBytes ?? 0) / 1e6)) MB before the page, \(String(format: "%.1f", Double(slowRSSAfterPageBytes ?? 0) / 1e6)) MB after
              npm-mirror serve RSS: \(String(format: "%.1f", Double(rssAfterMixBytes) / 1e6)) MB after the mix, \(String(format: "%.1f", Double(rssAfterHugeBytes) / 1e6)) MB after the huge packument, \(String(format: "%.1f", Double(rssAfterHugePageBytes ?? 0) / 1e6)) MB after its web page, peak \(String(format: "%.1f", Double(peakRSSBytes) / 1e6)) MB
            """
    }
}

/// Fills a store with a generated registry's packuments and kept tarballs (the registry's bytes),
/// starts `npm-mirror serve` on it, lets it derive every document once, lays out the same served
/// files for nginx, and loads both with wrk.
struct ServeStage {
    let binaries: String
    let workDirectory: String
    let seed: UInt64
    let packages: Int
    let hugePackumentBytes: Int
    let connections: Int
    let seconds: Int
    let logger: Logger

    static let wrk = "/usr/bin/wrk"
    static let nginx = "/usr/sbin/nginx"

    func run() async throws -> ServeFigures {
        for (tool, package) in [(Self.wrk, "wrk"), (Self.nginx, "nginx-light")] where !FileManager.default.isExecutableFile(atPath: tool) {
            throw BenchError("\(tool) is missing: the serve stage needs it (apt-get install \(package))")
        }
        let root = workDirectory + "/serve"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        let store = try PackageStore(root: root + "/packages", scratch: root + "/scratch", shardLength: 3)
        var configuration = RegistrySimulator.Configuration()
        configuration.packages = packages
        configuration.seed = seed
        configuration.hugePackumentBytes = hugePackumentBytes
        var quiet = logger
        quiet.logLevel = .error
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let filled: (names: [String], tarballs: [(path: String, file: String)], huge: String?)
        do {
            filled = try await withRegistrySimulator(configuration: configuration, logger: quiet) { simulator in
                try await fill(store, from: simulator, client: client)
            }
        } catch {
            try? await client.shutdown()
            throw error
        }
        defer { Task { try? await client.shutdown() } }

        try Data("{}".utf8).write(to: URL(fileURLWithPath: root + "/config.json"))
        // The server measured, and beside it the same server without its fast path. Both use the
        // same tarball base, so they serve the same derived files.
        let port = try Self.freePort()
        let base = "http://127.0.0.1:\(port)"
        let serve = try await startServe(port: port, publicURL: base, fastPath: true, root: root, log: "serve.log")
        defer { serve.send(SIGTERM) }
        try await waitForPing(base, client: client, server: serve, log: root + "/serve.log")
        let slowPort = try Self.freePort()
        let slowBase = "http://127.0.0.1:\(slowPort)"
        let slow = try await startServe(port: slowPort, publicURL: base, fastPath: false, root: root, log: "serve-slow.log")
        defer { slow.send(SIGTERM) }
        try await waitForPing(slowBase, client: client, server: slow, log: root + "/serve-slow.log")

        // Derive every document once (what a first request does), then find the bytes served.
        let paths = filled.names.map { "/" + $0.replacingOccurrences(of: "/", with: "%2f") }
        for path in paths {
            var request = HTTPClientRequest(url: base + path)
            request.headers.add(name: "Accept", value: "application/vnd.npm.install-v1+json")
            request.headers.add(name: "Accept-Encoding", value: "gzip")
            let response = try await client.execute(request, timeout: .seconds(300))
            _ = try await response.body.collect(upTo: 1 << 30)
            guard response.status == .ok else { throw BenchError("GET \(path) from npm-mirror serve: \(response.status)") }
        }
        let docroot = root + "/nginx-root"
        try layOut(store, names: filled.names, tarballs: filled.tarballs, docroot: docroot)
        // A port found free can be taken before nginx binds it (nginx then exits at once): a new
        // port, at most three times, instead of waiting on a server that is not there.
        var started: (process: ChildProcess, port: Int)?
        for attempt in 1...3 {
            let port = try Self.freePort()
            let process = try await startNginx(docroot: docroot, port: port, directory: root)
            do {
                try await waitForPing("http://127.0.0.1:\(port)", client: client, path: "/" + filled.names[0].replacingOccurrences(of: "/", with: "%2f"), server: process, log: root + "/nginx-error.log")
                started = (process, port)
                break
            } catch let error as BenchError where process.hasEnded && attempt < 3 {
                logger.warning("nginx did not start; trying another port", metadata: ["error": "\(error)"])
            }
        }
        guard let (nginx, nginxPort) = started else { throw BenchError("nginx did not start") }
        defer { nginx.send(SIGTERM) }

        let packumentList = try write(paths, to: root + "/packuments.txt")
        let tarballList = try write(filled.tarballs.map(\.path), to: root + "/tarballs.txt")
        // The huge packument's full document, uncompressed: the most bytes one answer streams.
        let huge = filled.huge ?? filled.names[0]
        let hugeList = try write(["/" + huge.replacingOccurrences(of: "/", with: "%2f")], to: root + "/huge.txt")
        let hugeFull = try Self.servedFile(store, name: huge, suffix: ".full.json")
        try FileManager.default.linkItem(atPath: hugeFull, toPath: docroot + "/huge-full.json")
        let nginxHugeList = try write(["/huge-full.json"], to: root + "/huge-nginx.txt")
        let script = root + "/mix.lua"
        try Self.wrkScript.write(toFile: script, atomically: true, encoding: .utf8)

        // The fast path remembers answers the slow path gave: one warm-up pass over the mix first.
        _ = try await load(base, list: packumentList, script: script, compressed: true, directory: root, name: "mirror-warm-up", seconds: 2)
        let mirrorPackuments = try await load(base, list: packumentList, script: script, compressed: true, directory: root, name: "mirror-packuments", server: serve.pid)
        let rssAfterMix = Self.memory(of: serve.pid, field: "VmRSS")
        let slowPackuments = try await load(slowBase, list: packumentList, script: script, compressed: true, directory: root, name: "slow-packuments", server: slow.pid)
        let nginxPackuments = try await load("http://127.0.0.1:\(nginxPort)", list: packumentList, script: script, compressed: true, directory: root, name: "nginx-packuments")
        let mirrorTarballs = try await load(base, list: tarballList, script: script, compressed: false, directory: root, name: "mirror-tarballs", server: serve.pid)
        let slowTarballs = try await load(slowBase, list: tarballList, script: script, compressed: false, directory: root, name: "slow-tarballs", server: slow.pid)
        let nginxTarballs = try await load("http://127.0.0.1:\(nginxPort)", list: tarballList, script: script, compressed: false, directory: root, name: "nginx-tarballs")
        let mirrorHuge = try await load(base, list: hugeList, script: script, compressed: false, directory: root, name: "mirror-huge", server: serve.pid)
        let rssAfterHuge = Self.memory(of: serve.pid, field: "VmRSS")
        let slowHuge = try await load(slowBase, list: hugeList, script: script, compressed: false, directory: root, name: "slow-huge", server: slow.pid)
        // 304 revalidations over the packument mix, and ping: each server in turn.
        var other: [String: LoadFigures] = [:]
        let pingList = try write(["/-/ping"], to: root + "/ping.txt")
        let servers: [(label: String, base: String, pid: pid_t?)] = [("mirror", base, serve.pid), ("slow", slowBase, slow.pid), ("nginx", "http://127.0.0.1:\(nginxPort)", nil)]
        for (label, target, pid) in servers {
            other[label + "-revalidate"] = try await load(target, list: packumentList, script: script, compressed: true, directory: root, name: label + "-revalidate", server: pid, revalidate: true)
            if pid != nil {
                other[label + "-ping"] = try await load(target, list: pingList, script: script, compressed: false, directory: root, name: label + "-ping", server: pid)
            }
        }
        // The huge package's web page: read from the small summary derived beside its documents,
        // never from the packument itself.
        let hugePageList = try write(["/-/web/package/" + huge], to: root + "/huge-page.txt")
        let mirrorHugePage = try await load(base, list: hugePageList, script: script, compressed: false, directory: root, name: "mirror-huge-page")
        let rssAfterHugePage = Self.memory(of: serve.pid, field: "VmRSS")
        let peak = Self.memory(of: serve.pid, field: "VmHWM")
        let slowBeforePage = Self.memory(of: slow.pid, field: "VmRSS")
        let slowPage = try await load(slowBase, list: hugePageList, script: script, compressed: false, directory: root, name: "slow-huge-page")
        let slowAfterPage = Self.memory(of: slow.pid, field: "VmRSS")
        other["slow-huge-page"] = slowPage
        let nginxHuge = try await load("http://127.0.0.1:\(nginxPort)", list: nginxHugeList, script: script, compressed: false, directory: root, name: "nginx-huge")
        return ServeFigures(
            packages: filled.names.count, hugePackumentBytes: hugePackumentBytes, connections: connections, seconds: seconds,
            mirrorPackuments: mirrorPackuments, nginxPackuments: nginxPackuments,
            mirrorTarballs: mirrorTarballs, nginxTarballs: nginxTarballs,
            mirrorHuge: mirrorHuge, nginxHuge: nginxHuge,
            rssAfterMixBytes: rssAfterMix, rssAfterHugeBytes: rssAfterHuge, peakRSSBytes: peak,
            mirrorHugePage: mirrorHugePage, rssAfterHugePageBytes: rssAfterHugePage,
            slowPackuments: slowPackuments, slowTarballs: slowTarballs, slowHuge: slowHuge, other: other,
            slowRSSBeforePageBytes: slowBeforePage, slowRSSAfterPageBytes: slowAfterPage
        )
    }

    // MARK: The store

    /// Every published packument, and the tarballs of the versions the consumer would keep.
    private func fill(_ store: PackageStore, from simulator: RegistrySimulator, client: HTTPClient) async throws -> (names: [String], tarballs: [(path: String, file: String)], huge: String?) {
        let packages = PackageClient(registryURL: simulator.registryURL, http: RegistryHTTP(client: client, timeout: .seconds(300), metrics: NOOPMetricsHandler.instance))
        var names: [String] = []
        var tarballs: [(path: String, file: String)] = []
        for name in simulator.packageNames {
            guard let body = try await Self.packument(name, from: packages) else { continue }
            let packument = try body.withUnsafeReadableBytes { try Packument.parse($0, expectedName: name) }
            guard !packument.isUnpublished else { continue }
            try body.withUnsafeReadableBytes { bytes in
                _ = try store.storePackument(name: name, rev: packument.rev ?? "1-bench", json: bytes)
            }
            let keep = VersionRetention.versionsToKeep(versions: packument.versions.keys, time: packument.time, latest: packument.latest, limit: 3)
            for version in keep.sorted() {
                guard let entry = packument.versions[version] else { continue }
                let url = Packument.tarballURL(name: name, version: entry, registryURL: simulator.registryURL)
                let response = try await packages.tarball(url: url)
                let bytes = try await response.body.collect(upTo: 1 << 31)
                let directory = store.absolutePackageDirectory(for: name)
                let file = try store.tarballFileName(name: name, version: version)
                try Data(bytes.readableBytesView).write(to: URL(fileURLWithPath: directory + "/" + file))
                tarballs.append(("/" + name + "/-/" + (name.split(separator: "/").last.map(String.init) ?? name) + "-" + version + ".tgz", directory + "/" + file))
            }
            names.append(name)
        }
        return (names, tarballs, simulator.notablePackages.hugePackument.flatMap { names.contains($0) ? $0 : nil })
    }

    /// The newest served file of `name` ending in `suffix`.
    private static func servedFile(_ store: PackageStore, name: String, suffix: String) throws -> String {
        guard let file = try store.servedFiles(name: name).first(where: { $0.fileName.hasSuffix(suffix) }) else {
            throw BenchError("no served \(suffix) document for \(name)")
        }
        return store.servedDirectory(for: name) + "/" + file.fileName
    }

    /// The packument, or nil for a deleted package (404).
    private static func packument(_ name: String, from packages: PackageClient) async throws -> ByteBuffer? {
        do {
            return try await packages.packument(name, maxBytes: Int.max)
        } catch {
            let notFound = error.code == .notFound
            if notFound { return nil }
            throw error
        }
    }

    /// nginx's document root: per package `<path>/__packument` (the mirror's abbreviated, gzip'd
    /// document, hard-linked) and `<path>/-/<file>.tgz` (the tarballs), so both serve the same bytes.
    private func layOut(_ store: PackageStore, names: [String], tarballs: [(path: String, file: String)], docroot: String) throws {
        let files = FileManager.default
        for name in names {
            try files.createDirectory(atPath: docroot + "/" + name, withIntermediateDirectories: true)
            try files.linkItem(atPath: try Self.servedFile(store, name: name, suffix: ".abbreviated.json.gz"), toPath: docroot + "/" + name + "/__packument")
            try files.createDirectory(atPath: docroot + "/" + name + "/-", withIntermediateDirectories: true)
        }
        for tarball in tarballs {
            try files.linkItem(atPath: tarball.file, toPath: docroot + tarball.path)
        }
    }

    private func startNginx(docroot: String, port: Int, directory: String) async throws -> ChildProcess {
        let configuration = """
            daemon off;
            master_process on;
            worker_processes 2;
            pid \(directory)/nginx.pid;
            error_log \(directory)/nginx-error.log warn;
            events { worker_connections 4096; }
            http {
                access_log off;
                sendfile on;
                tcp_nopush on;
                keepalive_requests 1000000;
                client_body_temp_path \(directory)/nginx-tmp;
                proxy_temp_path \(directory)/nginx-tmp;
                fastcgi_temp_path \(directory)/nginx-tmp;
                uwsgi_temp_path \(directory)/nginx-tmp;
                scgi_temp_path \(directory)/nginx-tmp;
                types { }
                server {
                    listen 127.0.0.1:\(port);
                    root \(docroot);
                    location ~ /-/[^/]+\\.tgz$ { default_type application/octet-stream; }
                    location = /huge-full.json { default_type application/json; }
                    location / {
                        default_type application/vnd.npm.install-v1+json;
                        add_header Content-Encoding gzip;
                        try_files $uri/__packument =404;
                    }
                }
            }
            """
        try FileManager.default.createDirectory(atPath: directory + "/nginx-tmp", withIntermediateDirectories: true)
        try configuration.write(toFile: directory + "/nginx.conf", atomically: true, encoding: .utf8)
        return try await ChildProcess.start(Self.nginx, arguments: ["-c", directory + "/nginx.conf", "-p", directory], environment: ["PATH": "/usr/bin:/bin"], logFile: directory + "/nginx.log")
    }

    // MARK: Load

    static let wrkScript = """
        local paths = {}
        for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
        local headers = {}
        if os.getenv("WRK_COMPRESSED") == "1" then
            headers["Accept"] = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"
            headers["Accept-Encoding"] = "gzip"
        end
        if os.getenv("WRK_REVALIDATE") == "1" then
            headers["If-Modified-Since"] = "Sat, 01 Jan 2050 00:00:00 GMT"
        end
        local method = os.getenv("WRK_METHOD") or "GET"
        local index = 0
        function setup(thread) end
        function init(args) index = math.random(#paths) end
        function request()
            index = index % #paths + 1
            return wrk.format(method, paths[index], headers)
        end
        """

    private func startServe(port: Int, publicURL: String, fastPath: Bool, root: String, log: String) async throws -> ChildProcess {
        try await ChildProcess.start(
            binaries + "/npm-mirror",
            arguments: ["serve"],
            environment: [
                "PATH": "/usr/bin:/bin", "REMOTE_PACKAGE_DIR": root + "/packages", "LOCAL_PACKAGE_DIR": root + "/scratch",
                "SUBDIRECTORY_HASH_LENGTH": "3", "SERVE_PORT": "\(port)", "PUBLIC_URL": publicURL, "DBDATA_DIR": root + "/dbdata",
                "METRICS_PORT": "0", "LOG_LEVEL": "warning", "CONFIG_FILE": root + "/config.json", "HOME": root,
                "SERVE_FAST_PATH": fastPath ? "true" : "false",
            ],
            logFile: root + "/" + log
        )
    }

    /// A process's CPU seconds so far (user + system), from `/proc/<pid>/stat`.
    static func cpuSeconds(of pid: pid_t) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return 0 }
        // After the command's ")": state is field 3, utime and stime fields 14 and 15.
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        guard fields.count > 13, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    private func load(
        _ base: String, list: String, script: String, compressed: Bool, directory: String, name: String, seconds: Int? = nil, server: pid_t? = nil,
        method: String = "GET", revalidate: Bool = false
    ) async throws -> LoadFigures {
        let output = directory + "/wrk-\(name).txt"
        let seconds = seconds ?? self.seconds
        let cpuBefore = server.map(Self.cpuSeconds(of:))
        let result = try await ChildProcess.run(
            Self.wrk,
            arguments: ["-t2", "-c\(connections)", "-d\(seconds)s", "--timeout", "30s", "--latency", "-s", script, base],
            environment: ["PATH": "/usr/bin:/bin", "WRK_PATHS": list, "WRK_COMPRESSED": compressed ? "1" : "0", "WRK_METHOD": method, "WRK_REVALIDATE": revalidate ? "1" : "0"],
            logFile: output,
            timeout: .seconds(seconds + 120)
        )
        guard result.succeeded else { throw BenchError("wrk \(name) ended with \(result.ending); see \(output)") }
        var figures = try Self.parseWrk(try String(contentsOfFile: output, encoding: .utf8), name: name)
        if let server, let cpuBefore {
            let answers = figures.requestsPerSecond * Double(seconds)
            figures.serverCPUSecondsPer1000 = answers > 0 ? (Self.cpuSeconds(of: server) - cpuBefore) / answers * 1000 : nil
        }
        return figures
    }

    static func parseWrk(_ text: String, name: String) throws -> LoadFigures {
        func number(after label: String) -> String? {
            guard let line = text.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(label) }) else { return nil }
            return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst(label.split(separator: " ").count).first.map(String.init)
        }
        func milliseconds(_ text: String?) -> Double {
            guard let text else { return 0 }
            for (suffix, factor) in [("us", 0.001), ("ms", 1.0), ("s", 1000.0), ("m", 60_000.0)] where text.hasSuffix(suffix) {
                return (Double(text.dropLast(suffix.count)) ?? 0) * factor
            }
            return Double(text) ?? 0
        }
        func megabytes(_ text: String?) -> Double {
            guard let text else { return 0 }
            for (suffix, factor) in [("KB", 1.0 / 1024), ("MB", 1.0), ("GB", 1024.0), ("B", 1.0 / 1_048_576)] where text.hasSuffix(suffix) {
                return (Double(text.dropLast(suffix.count)) ?? 0) * factor * 1.048576
            }
            return 0
        }
        guard let requests = number(after: "Requests/sec:").flatMap(Double.init) else {
            throw BenchError("wrk \(name): no Requests/sec in its output:\n\(text.prefix(2000))")
        }
        let non2xx = number(after: "Non-2xx or 3xx responses:").flatMap(Int.init) ?? 0
        var socketErrors = 0
        if let line = text.split(separator: "\n").first(where: { $0.contains("Socket errors:") }) {
            socketErrors = line.split(whereSeparator: { !$0.isNumber }).compactMap { Int($0) }.reduce(0, +)
        }
        return LoadFigures(
            requestsPerSecond: requests,
            megabytesPerSecond: megabytes(number(after: "Transfer/sec:")),
            p50Milliseconds: milliseconds(number(after: "50%")),
            p99Milliseconds: milliseconds(number(after: "99%")),
            errors: non2xx + socketErrors
        )
    }

    // MARK: Helpers

    private func write(_ lines: [String], to path: String) throws -> String {
        try (lines.joined(separator: "\n") + "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Waits until `base + path` answers 200, at most 60 s; gives up at once when `server` has ended
    /// (it failed to start: a port taken, a bad configuration), with the end of its log.
    private func waitForPing(_ base: String, client: HTTPClient, path: String = "/-/ping", server: ChildProcess, log: String) async throws {
        let deadline = ContinuousClock.now + .seconds(60)
        var last = "no answer"
        while ContinuousClock.now < deadline {
            if server.hasEnded {
                let tail = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").suffix(1500)
                throw BenchError("\(server.executable) ended before \(base)\(path) answered (\(last)); its log ends: \(tail)")
            }
            do {
                let response = try await client.execute(HTTPClientRequest(url: base + path), timeout: .seconds(5))
                _ = try? await response.body.collect(upTo: 1 << 30)
                if response.status == .ok { return }
                last = "HTTP \(response.status.code)"
            } catch {
                last = "\(error)"
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw BenchError("\(base)\(path) did not answer 200 within 60 s (last: \(last)); see \(log)")
    }

    /// A kB figure of /proc/<pid>/status, in bytes (0 when unreadable).
    static func memory(of pid: pid_t, field: String) -> Int64 {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
            let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field + ":") }),
            let kilobytes = line.split(separator: " ").dropFirst().first.flatMap({ Int64($0) })
        else { return 0 }
        return kilobytes * 1024
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw BenchError("cannot find a free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}
