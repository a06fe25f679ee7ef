import CompressNIO
import Dispatch
import Foundation
import Logging
import MirrorTestSupport
import MirrorRecords
import MirrorServe
import MirrorStore
import NIOCore
import Prometheus
import ServiceLifecycle
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// The recorded npm responses.
enum Fixtures {
    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: recordedFixture("npm-recorded", name)))
    }

    static func json(_ name: String) throws -> JSONValue {
        try JSONValue(parsing: bytes(name))
    }
}

/// A store filled by hand: packuments through `storePackument`, tarball files put where the
/// store keeps them.
struct TestStore {
    let root: String
    let store: PackageStore

    init() throws {
        let directory = try temporaryDirectory()
        try self.init(root: directory + "/packages", scratch: directory + "/scratch", shardLength: 2)
    }

    /// An existing store (filled by the pipeline).
    init(root: String, scratch: String, shardLength: Int) throws {
        self.root = root
        store = try PackageStore(root: root, scratch: scratch, shardLength: shardLength)
    }

    func packument(_ name: String, rev: String, _ json: [UInt8]) throws {
        try store.storePackument(name: name, rev: rev, json: json)
    }

    func tarball(_ name: String, _ version: String, _ bytes: [UInt8]) throws {
        let path = store.absolutePackageDirectory(for: name) + "/" + (try store.tarballFileName(name: name, version: version))
        try FileManager.default.createDirectory(atPath: store.absolutePackageDirectory(for: name), withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }
}

/// The scoped package of the tests: 1.0.0 and 1.1.0 (deprecated) and 2.0.0-beta.1 are held, 2.0.0
/// (latest) is not; 1.1.0 has a postinstall script.
let scopedPackument = """
    {"_id":"@scope/pkg","_rev":"4-abc","name":"@scope/pkg","description":"a scoped package","keywords":["scoped","test"],
    "dist-tags":{"latest":"2.0.0","next":"2.0.0-beta.1","old":"1.0.0"},
    "maintainers":[{"name":"alice","email":"alice@example.com"}],
    "time":{"created":"2020-01-01T00:00:00.000Z","modified":"2021-01-01T00:00:00.000Z","1.0.0":"2020-01-01T00:00:00.000Z",
    "1.1.0":"2020-02-01T00:00:00.000Z","2.0.0-beta.1":"2020-03-01T00:00:00.000Z","2.0.0":"2020-04-01T00:00:00.000Z"},
    "versions":{
    "1.0.0":{"name":"@scope/pkg","version":"1.0.0","dependencies":{"foobar":"^1.0.0"},"readme":"long text","_npmUser":{"name":"alice","email":"alice@example.com"},
      "dist":{"shasum":"aaa","integrity":"sha512-AAA=","tarball":"https://registry.npmjs.org/@scope/pkg/-/pkg-1.0.0.tgz","fileCount":3,"unpackedSize":1234,"signatures":[{"keyid":"SHA256:x","sig":"MEUC"}]}},
    "1.1.0":{"name":"@scope/pkg","version":"1.1.0","deprecated":"use 2.x","scripts":{"test":"x","postinstall":"node setup.js"},"bin":{"pkg":"cli.js"},"engines":{"node":">=18"},"os":["linux"],"cpu":["x64"],"libc":["glibc"],"funding":"https://example.com/fund","_hasShrinkwrap":false,"peerDependencies":{"foobar":"*"},"peerDependenciesMeta":{"foobar":{"optional":true}},"optionalDependencies":{},"bundleDependencies":[],"acceptDependencies":{},"directories":{},"gitHead":"deadbeef",
      "dist":{"shasum":"bbb","integrity":"sha512-BBB=","tarball":"https://registry.npmjs.org/@scope/pkg/-/pkg-1.1.0.tgz"}},
    "2.0.0-beta.1":{"name":"@scope/pkg","version":"2.0.0-beta.1","dist":{"shasum":"ccc","tarball":"https://registry.npmjs.org/@scope/pkg/-/pkg-2.0.0-beta.1.tgz"}},
    "2.0.0":{"name":"@scope/pkg","version":"2.0.0","dist":{"shasum":"ddd","tarball":"https://registry.npmjs.org/@scope/pkg/-/pkg-2.0.0.tgz"}}},
    "readme":"# pkg"}
    """

/// A raw HTTP/1.1 exchange over a socket: the request line is sent exactly as given (no client
/// normalises `..` or `%2e` away), one request per connection.
struct RawResponse: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.0.lowercased() == name.lowercased() }?.1
    }

    var text: String { String(decoding: body, as: UTF8.self) }

    func json() throws -> JSONValue { try JSONValue(parsing: body) }

    /// The body, gunzipped when `Content-Encoding: gzip`.
    func decodedBody() throws -> [UInt8] {
        guard header("Content-Encoding") == "gzip" else { return body }
        var buffer = ByteBuffer(bytes: body)
        var output = try buffer.decompress(with: .gzip())
        return output.readBytes(length: output.readableBytes) ?? []
    }
}

enum RawHTTP {
    static func request(
        port: Int,
        _ method: String = "GET",
        _ target: String,
        headers: [(String, String)] = [],
        body: [UInt8] = []
    ) async throws -> RawResponse {
        var head = "\(method) \(target) HTTP/1.1\r\n"
        if !headers.contains(where: { $0.0.lowercased() == "host" }) { head += "Host: 127.0.0.1:\(port)\r\n" }
        for (name, value) in headers { head += "\(name): \(value)\r\n" }
        head += "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        let request = Array(head.utf8) + body
        return try await onOwnThread { try exchange(port: port, request: request, isHead: method == "HEAD") }
    }

    /// Runs a blocking exchange on a thread of its own: neither a cooperative thread nor one of
    /// Dispatch's shared workers (which the server's file I/O runs on) waits for the socket.
    private static func onOwnThread(_ work: @escaping @Sendable () throws -> RawResponse) async throws -> RawResponse {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try work() }) }
            thread.start()
        }
    }

    /// A request whose target holds raw bytes (a NUL, for instance).
    static func request(port: Int, rawTarget: [UInt8]) async throws -> RawResponse {
        let request = Array("GET ".utf8) + rawTarget + Array(" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n".utf8)
        return try await onOwnThread { try exchange(port: port, request: request, isHead: false) }
    }

    struct Failure: Error, CustomStringConvertible { var description: String }

    private static func exchange(port: Int, request: [UInt8], isHead: Bool) throws -> RawResponse {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket failed") }
        defer { close(fd) }
        var timeout = timeval(tv_sec: 60, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw Failure(description: "connect to \(port) failed: errno \(errno)") }
        var sent = 0
        while sent < request.count {
            let count = request.withUnsafeBytes { send(fd, $0.baseAddress! + sent, request.count - sent, Int32(MSG_NOSIGNAL)) }
            guard count > 0 else { throw Failure(description: "send failed") }
            sent += count
        }
        return try parse(readUntilClosed(fd), isHead: isHead)
    }

    /// Every byte a socket receives until the peer closes it (or its receive timeout).
    static func readUntilClosed(_ fd: Int32) -> [UInt8] {
        var received: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if count < 0 && errno == EINTR { continue }
            if count <= 0 { break }
            received.append(contentsOf: chunk[0..<count])
        }
        return received
    }

    static func parse(_ bytes: [UInt8], isHead: Bool) throws -> RawResponse {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = bytes.indices.first(where: { bytes[$0...].starts(with: separator) }) else {
            throw Failure(description: "no complete response head in \(bytes.count) bytes")
        }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else { throw Failure(description: "bad status line \(lines[0])") }
        var headers: [(String, String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append((String(line[..<colon]), String(line[line.index(after: colon)...]).trimmingCharacters(in: .whitespaces)))
        }
        var body = Array(bytes[(end + 4)...])
        let chunked = headers.contains { $0.0.lowercased() == "transfer-encoding" && $0.1.lowercased().contains("chunked") }
        if chunked { body = try dechunk(body) }
        if isHead { body = [] }
        return RawResponse(status: status, headers: headers, body: body)
    }

    private static func dechunk(_ bytes: [UInt8]) throws -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        while index < bytes.count {
            guard let lineEnd = (index..<bytes.count - 1).first(where: { bytes[$0] == 13 && bytes[$0 + 1] == 10 }) else { break }
            let sizeText = String(decoding: bytes[index..<lineEnd], as: UTF8.self).split(separator: ";")[0]
            guard let size = Int(sizeText, radix: 16) else { throw Failure(description: "bad chunk size") }
            if size == 0 { break }
            output.append(contentsOf: bytes[(lineEnd + 2)..<(lineEnd + 2 + size)])
            index = lineEnd + 2 + size + 2
        }
        return output
    }
}

/// A running registry server for one test.
struct ServerUnderTest: Sendable {
    let server: RegistryServer
    let port: Int
    let metrics: PrometheusCollectorRegistry

    func get(_ target: String, _ headers: [(String, String)] = []) async throws -> RawResponse {
        try await RawHTTP.request(port: port, "GET", target, headers: headers)
    }

    /// The Prometheus text of the server's metrics.
    var metricsText: String { String(decoding: metrics.emitToBuffer(), as: UTF8.self) }

    /// The value of one series (0 when absent).
    func metric(_ series: String) -> Double {
        for line in metricsText.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.split(separator: " ").last ?? "") ?? 0
        }
        return 0
    }
}

/// Runs a server over `store` inside the test's task group; shuts it down gracefully when `body`
/// returns or throws.
func withServer<T: Sendable>(
    store: TestStore,
    records: (any RecordStore)? = nil,
    search: (any PackageMatching)? = nil,
    _ configure: (inout ServeConfiguration) -> Void = { _ in },
    _ body: @Sendable (ServerUnderTest) async throws -> T
) async throws -> T {
    var configuration = ServeConfiguration(storeDirectory: store.root, scratchDirectory: store.store.scratch, shardLength: store.store.shardLength)
    configuration.port = 0
    configure(&configuration)
    let registry = PrometheusCollectorRegistry()
    let server = try RegistryServer(configuration: configuration, records: records, search: search, metricsFactory: PrometheusMetricsFactory(registry: registry), logger: testLogger)
    let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: [server], logger: testLogger))
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        defer { tasks.cancelAll() }
        guard let port = await server.waitUntilListening() else { throw RawHTTP.Failure(description: "the server did not start") }
        do {
            let result = try await body(ServerUnderTest(server: server, port: port, metrics: registry))
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
    }
}

/// A client socket the test drives by hand: connected (optionally with a tiny receive buffer), and
/// written to or read from only when the test says.
final class ManualSocket: @unchecked Sendable {
    let fd: Int32

    init(port: Int, receiveBuffer: Int32? = nil) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw RawHTTP.Failure(description: "socket failed") }
        if var size = receiveBuffer {
            setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            close(fd)
            throw RawHTTP.Failure(description: "connect failed: errno \(errno)")
        }
    }

    func send(_ text: String) {
        let bytes = Array(text.utf8)
        _ = bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until the received bytes end with `suffix` (or the 30 s receive timeout); whether they did.
    func receive(until suffix: String) async -> Bool {
        await withCheckedContinuation { continuation in
            let thread = Thread { [fd] in
                let wanted = Array(suffix.utf8)
                var received: [UInt8] = []
                var chunk = [UInt8](repeating: 0, count: 4096)
                while !received.reversed().starts(with: wanted.reversed()) {
                    let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if count < 0 && errno == EINTR { continue }
                    if count <= 0 { break }
                    received.append(contentsOf: chunk[0..<count])
                }
                continuation.resume(returning: received.reversed().starts(with: wanted.reversed()))
            }
            thread.start()
        }
    }

    /// Closes the sending half (the server then reads the end of the input).
    func shutdownWrite() {
        shutdown(fd, Int32(SHUT_WR))
    }

    /// Every byte until the peer closes (or the 30 s receive timeout).
    func readToClose() async -> [UInt8] {
        await withCheckedContinuation { continuation in
            let thread = Thread { [fd] in continuation.resume(returning: RawHTTP.readUntilClosed(fd)) }
            thread.start()
        }
    }

    /// Reads until the peer closes (or the 30 s receive timeout); the bytes read and whether the
    /// connection was closed by the peer.
    func drain() async -> (bytes: Int, closedByPeer: Bool) {
        await withCheckedContinuation { continuation in
            let thread = Thread { [fd] in
                var total = 0
                var chunk = [UInt8](repeating: 0, count: 65536)
                while true {
                    let count = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if count > 0 {
                        total += count
                        continue
                    }
                    if count < 0 && errno == EINTR { continue }
                    // 0: orderly close; ECONNRESET: closed with unread data; EAGAIN: timed out.
                    continuation.resume(returning: (total, count == 0 || errno == ECONNRESET))
                    return
                }
            }
            thread.start()
        }
    }

    deinit { close(fd) }
}
