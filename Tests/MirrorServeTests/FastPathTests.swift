import Foundation
import MirrorJSON
@testable import MirrorServe
import MirrorStore
import MirrorTestSupport
import Testing

/// The fast path (`SERVE_FAST_PATH`, on by default) against the slow path it stands in for.
@Suite("Serve's fast path")
struct FastPathTests {
    /// `@scope/pkg` and `foobar`, with the package folders and packuments dated in the past (the fast
    /// path remembers an answer only when the stamps it was found by are old enough to trust).
    private static func store() throws -> TestStore {
        let store = try TestStore()
        try store.packument("@scope/pkg", rev: "4-abc", Array(scopedPackument.utf8))
        for version in ["1.0.0", "1.1.0", "2.0.0-beta.1"] { try store.tarball("@scope/pkg", version, Array("tarball \(version)".utf8)) }
        // A document over the size kept in memory: sent from its file.
        let big = String(repeating: "x", count: 300_000)
        let packument = #"{"_id":"big","_rev":"1-b","name":"big","dist-tags":{"latest":"1.0.0"},"time":{"1.0.0":"2020-01-01T00:00:00.000Z"},"versions":{"1.0.0":{"name":"big","version":"1.0.0","description":"\#(big)","dist":{"shasum":"a","tarball":"https://registry.npmjs.org/big/-/big-1.0.0.tgz"}}}}"#
        try store.packument("big", rev: "1-b", Array(packument.utf8))
        try store.tarball("big", "1.0.0", [UInt8](repeating: 7, count: 3 << 20))
        try age(store)
        return store
    }

    private static func age(_ store: TestStore) throws {
        let past = Date(timeIntervalSince1970: 1_700_000_000)
        for name in ["@scope/pkg", "big"] {
            for path in [store.store.absolutePackageDirectory(for: name), store.store.packumentFilePath(for: name)] {
                try FileManager.default.setAttributes([.modificationDate: past], ofItemAtPath: path)
            }
        }
    }

    static let headersThatMatter = ["Content-Type", "ETag", "Vary", "Cache-Control", "Last-Modified", "Content-Length", "Content-Encoding", "Server", "Mirror-Cooldown"]

    @Test("every request kind gets the same status, headers that matter and body from the fast path as from the slow path")
    func byteIdentical() async throws {
        let store = try Self.store()
        // One tarball base for both (the default is the request's Host, which holds each server's port).
        try await withServer(store: store, { $0.publicURL = "http://mirror.example" }) { fast in
            try await withServer(store: store, { $0.fastPath = false; $0.publicURL = "http://mirror.example" }) { slow in
                let abbreviated = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"
                let etag = try #require(try await slow.get("/@scope/pkg", [("Accept-Encoding", "gzip")]).header("ETag"))
                let tarballTag = try #require(try await slow.get("/@scope/pkg/-/pkg-1.0.0.tgz").header("ETag"))
                let requests: [(String, String, [(String, String)])] = [
                    ("GET", "/@scope/pkg", []),
                    ("GET", "/@scope%2fpkg", [("Accept", abbreviated)]),
                    ("GET", "/@scope%2Fpkg", [("Accept", abbreviated), ("Accept-Encoding", "gzip, deflate, br")]),
                    ("GET", "/@scope/pkg", [("Accept-Encoding", "gzip")]),
                    ("HEAD", "/@scope/pkg", [("Accept", abbreviated)]),
                    ("GET", "/@scope/pkg", [("Accept-Encoding", "gzip"), ("If-None-Match", etag)]),
                    ("GET", "/@scope/pkg", [("Accept-Encoding", "gzip"), ("If-None-Match", "\"other\"")]),
                    ("GET", "/@scope/pkg", [("If-Modified-Since", "Sat, 01 Jan 2050 00:00:00 GMT")]),
                    ("GET", "/big", []),
                    ("GET", "/big", [("Accept", abbreviated), ("Accept-Encoding", "gzip")]),
                    ("GET", "/@scope/pkg/-/pkg-1.0.0.tgz", []),
                    ("HEAD", "/@scope/pkg/-/pkg-1.1.0.tgz", []),
                    ("GET", "/@scope%2fpkg/-/pkg-1.0.0.tgz", [("If-None-Match", tarballTag)]),
                    ("GET", "/big/-/big-1.0.0.tgz", []),
                    ("GET", "/@scope/pkg/-/pkg-9.9.9.tgz", []),
                    ("GET", "/@scope/pkg/1.0.0", []),
                    ("GET", "/no-such-package", []),
                    ("GET", "/-/ping", []),
                    ("GET", "/../etc/passwd", []),
                    ("POST", "/@scope/pkg", []),
                ]
                // Every document derived once (which writes into the package folders), then the
                    // folders aged again so that the answers can be remembered.
                for (method, target, headers) in requests { _ = try await RawHTTP.request(port: slow.port, method, target, headers: headers) }
                try Self.age(store)
                for (method, target, headers) in requests {
                    // Twice on the fast server: the first may be the slow path's (which remembers it).
                    _ = try await RawHTTP.request(port: fast.port, method, target, headers: headers)
                    let fastAnswer = try await RawHTTP.request(port: fast.port, method, target, headers: headers)
                    let slowAnswer = try await RawHTTP.request(port: slow.port, method, target, headers: headers)
                    let label = "\(method) \(target) \(headers)"
                    #expect(fastAnswer.status == slowAnswer.status, "\(label)")
                    for name in Self.headersThatMatter {
                        #expect(fastAnswer.header(name) == slowAnswer.header(name), "\(label): \(name)")
                    }
                    #expect(fastAnswer.body == slowAnswer.body, "\(label): bodies differ (\(fastAnswer.body.count) and \(slowAnswer.body.count) bytes)")
                }
                // The fast path answered: packuments from memory and from file, tarballs, 304s.
                #expect(fast.metric("npm_mirror_serve_fast_path_total{route=\"packument\"}") >= 10)
                #expect(fast.metric("npm_mirror_serve_fast_path_total{route=\"tarball\"}") >= 4)
                #expect(slow.metric("npm_mirror_serve_fast_path_total{route=\"packument\"}") == 0)
                #expect(fast.metric("npm_mirror_serve_requests_total{route=\"packument\",status=\"3xx\"}") >= 3)
            }
        }
    }

    @Test("pipelined requests on one connection are answered in order, fast and slow ones mixed")
    func pipelinedOrder() async throws {
        let store = try Self.store()
        try await withServer(store: store) { server in
            _ = try await server.get("/@scope/pkg")
            try Self.age(store)
            _ = try await server.get("/@scope/pkg")
            let socket = try ManualSocket(port: server.port)
            let host = "Host: 127.0.0.1:\(server.port)\r\n"
            socket.send(
                "GET /@scope/pkg/1.0.0 HTTP/1.1\r\n\(host)\r\n"
                    + "GET /@scope/pkg HTTP/1.1\r\n\(host)\r\n"
                    + "GET /-/ping HTTP/1.1\r\n\(host)\r\n"
                    + "GET /@scope/pkg/-/pkg-1.1.0.tgz HTTP/1.1\r\n\(host)\r\n"
                    + "GET /@scope/pkg/latest HTTP/1.1\r\n\(host)Connection: close\r\n\r\n"
            )
            let responses = try Self.split(await socket.readToClose())
            #expect(responses.count == 5)
            guard responses.count == 5 else { return }
            #expect(try JSONValue(parsing: responses[0]).objectValue?["version"] == "1.0.0")
            #expect(try JSONValue(parsing: responses[1])["name"] == "@scope/pkg")
            #expect(try JSONValue(parsing: responses[2]) == .object([:]))
            #expect(responses[3] == Array("tarball 1.1.0".utf8))
            #expect(try JSONValue(parsing: responses[4]).objectValue?["version"] == "1.1.0")
        }
    }

    @Test("a changed package is seen at once: a new tarball or revision sends the request to the slow path again")
    func freshness() async throws {
        let store = try Self.store()
        try await withServer(store: store) { server in
            _ = try await server.get("/@scope/pkg")
            try Self.age(store)
            _ = try await server.get("/@scope/pkg")
            #expect(try await server.get("/@scope/pkg").json()["dist-tags"]?["latest"] == "1.1.0")
            let before = server.metric("npm_mirror_serve_fast_path_total{route=\"packument\"}")
            #expect(before >= 1)
            try store.tarball("@scope/pkg", "2.0.0", Array("tarball 2.0.0".utf8))
            #expect(try await server.get("/@scope/pkg").json()["dist-tags"]?["latest"] == "2.0.0")
        }
    }

    @Test("a remembered answer whose file was rotated away is looked up again, not cut off")
    func rotatedAway() async throws {
        let store = try Self.store()
        try await withServer(store: store) { server in
            _ = try await server.get("/big")
            try Self.age(store)
            _ = try await server.get("/big")
            #expect(try await server.get("/big").status == 200)
            let fastBefore = server.metric("npm_mirror_serve_fast_path_total{route=\"packument\"}")
            #expect(fastBefore >= 1)
            // Another process's rotation removes the files; the package folder's stamp is unchanged.
            for file in try store.store.servedFiles(name: "big") {
                try store.store.removeServedFile(name: "big", fileName: file.fileName)
            }
            let again = try await server.get("/big")
            #expect(again.status == 200)
            #expect(try again.json()["name"] == "big")
        }
    }

    @Test("a client that half-closes after its request still gets the whole tarball")
    func halfClose() async throws {
        let store = try Self.store()
        try await withServer(store: store) { server in
            let socket = try ManualSocket(port: server.port)
            socket.send("GET /big/-/big-1.0.0.tgz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            socket.shutdownWrite()
            let bytes = await socket.readToClose()
            let bodies = try Self.split(bytes)
            #expect(bodies.first?.count == 3 << 20)
        }
    }

    @Test("a request whose end never comes does not hold the connection past the idle timeout")
    func stalledRequest() async throws {
        let store = try Self.store()
        try await withServer(store: store, { $0.idleTimeout = .seconds(1) }) { server in
            let socket = try ManualSocket(port: server.port)
            socket.send("GET /@scope/pkg HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 10\r\n\r\n")
            let started = ContinuousClock.now
            let (_, closed) = await socket.drain()
            #expect(closed)
            #expect(ContinuousClock.now - started < .seconds(10))
        }
    }

    /// The bodies of consecutive responses (each framed by `Content-Length`).
    static func split(_ bytes: [UInt8]) throws -> [[UInt8]] {
        var bodies: [[UInt8]] = []
        var rest = bytes[...]
        let separator = Array("\r\n\r\n".utf8)
        while !rest.isEmpty {
            guard let end = rest.firstRange(of: separator) else { throw RawHTTP.Failure(description: "a response without the end of its head") }
            let head = String(decoding: rest[..<end.lowerBound], as: UTF8.self)
            let length = head.split(separator: "\r\n").first { $0.lowercased().hasPrefix("content-length:") }.flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
            let start = end.upperBound
            guard rest.distance(from: start, to: rest.endIndex) >= length else { throw RawHTTP.Failure(description: "a body shorter than its Content-Length") }
            bodies.append(Array(rest[start..<rest.index(start, offsetBy: length)]))
            rest = rest[rest.index(start, offsetBy: length)...]
        }
        return bodies
    }
}

/// The sleep beside every request's deadline.
@Suite("The request deadline's sleep")
struct EventLoopSleepTests {
    @Test("it wakes after its time; cancelled, it ends at once; a deadline cuts a body that runs over")
    func sleepAndCancel() async throws {
        let start = ContinuousClock.now
        try await EventLoopSleep.sleep(for: .milliseconds(200))
        #expect(ContinuousClock.now - start >= .milliseconds(190))

        let sleeper = Task { try await EventLoopSleep.sleep(for: .seconds(60)) }
        try await Task.sleep(for: .milliseconds(50))
        let cancelledAt = ContinuousClock.now
        sleeper.cancel()
        await #expect(throws: CancellationError.self) { try await sleeper.value }
        #expect(ContinuousClock.now - cancelledAt < .seconds(5))

        // Cancelled before it starts waiting.
        let early = Task {
            withUnsafeCurrentTask { $0?.cancel() }
            try await EventLoopSleep.sleep(for: .seconds(60))
        }
        await #expect(throws: CancellationError.self) { try await early.value }

        await #expect(throws: DeadlineExceeded.self) {
            try await withDeadline(.milliseconds(100)) { try await Task.sleep(for: .seconds(30)) }
        }
        #expect(try await withDeadline(.seconds(30)) { 7 } == 7)
    }
}
