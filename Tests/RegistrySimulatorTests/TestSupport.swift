import AsyncHTTPClient
import Crypto
import Foundation
import MirrorHarness
import Logging
import MirrorTestSupport
import NIOCore
import NIOHTTP1
import RegistrySimulator
import Testing

/// A response with its body collected.
struct Fetched: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: ByteBuffer

    var bytes: [UInt8] { Array(self.body.readableBytesView) }
    var data: Data { Data(self.body.readableBytesView) }
    var text: String { String(buffer: self.body) }

    func json() throws -> [String: Any] {
        let object = try JSONSerialization.jsonObject(with: self.data)
        return try #require(object as? [String: Any], "expected a JSON object, got \(self.text.prefix(200))")
    }
}

enum HTTP {
    static func get(_ url: String, accept: String? = nil, limit: Int = 1 << 30, timeout: TimeAmount = .seconds(180)) async throws -> Fetched {
        var request = HTTPClientRequest(url: url)
        if let accept { request.headers.add(name: "Accept", value: accept) }
        // A read timeout as long as the deadline (the shared client's is shorter): a document the
        // simulator renders slowly on a loaded machine sends nothing until it is ready.
        let response = try await patient.execute(request, timeout: timeout)
        let body = try await response.body.collect(upTo: limit)
        return Fetched(status: Int(response.status.code), headers: response.headers, body: body)
    }

    /// One client for the tests' lifetime (never shut down: the process ends first).
    static let patient = HTTPClient(
        eventLoopGroupProvider: .singleton,
        configuration: HTTPClient.Configuration(timeout: .init(connect: .seconds(10), read: .seconds(300)))
    )

    static func send(_ method: HTTPMethod, _ url: String, json: String? = nil) async throws -> Fetched {
        var request = HTTPClientRequest(url: url)
        request.method = method
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(180))
        let body = try await response.body.collect(upTo: 1 << 26)
        return Fetched(status: Int(response.status.code), headers: response.headers, body: body)
    }
}

/// Runs `body` beside a simulator (40 packages, seed 7 unless told), stopping it afterwards (also on failure).
func withSimulator<T>(
    packages: Int = 40,
    seed: UInt64 = 7,
    _ configure: (inout RegistrySimulator.Configuration) -> Void = { _ in },
    _ body: (RegistrySimulator) async throws -> T
) async throws -> T {
    try await MirrorTestSupport.withSimulator(packages: packages, seed: seed, logLevel: .warning, configure, body)
}

enum Fixtures {
    /// `<repo>/Tests/Fixtures/npm-recorded/`.
    static let directory: URL = recordedFixture("npm-recorded")

    static func data(_ name: String) throws -> Data {
        try Data(contentsOf: self.directory.appendingPathComponent(name))
    }

    static func json(_ name: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: self.data(name)) as? [String: Any])
    }
}

enum Digest {
    static func integrity(_ bytes: [UInt8]) -> String {
        "sha512-" + Data(SHA512.hash(data: bytes)).base64EncodedString()
    }

    static func shasum(_ bytes: [UInt8]) -> String {
        Insecure.SHA1.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
    }
}

/// JSON "type" names, to compare shapes with the recorded fixtures.
func jsonType(_ value: Any) -> String {
    switch value {
    case is [String: Any]: return "object"
    case is [Any]: return "array"
    case is String: return "string"
    case is NSNumber:
        // Foundation on Linux does not reliably tell JSON booleans from numbers.
        return "number-or-bool"
    default: return "null"
    }
}

/// Checks that every key of `recorded` (minus `ignoring`) is in `generated` with the same JSON type.
func expectSameShape(
    _ generated: [String: Any],
    as recorded: [String: Any],
    ignoring: Set<String> = [],
    _ what: String,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    for (key, value) in recorded where !ignoring.contains(key) {
        guard let mine = generated[key] else {
            Issue.record("\(what): missing key '\(key)' (have \(generated.keys.sorted()))", sourceLocation: sourceLocation)
            continue
        }
        #expect(jsonType(mine) == jsonType(value), "\(what).\(key): \(jsonType(mine)) vs recorded \(jsonType(value))", sourceLocation: sourceLocation)
    }
}

/// Runs a command, returning its standard output.
func run(_ executable: String, _ arguments: [String]) async throws -> (status: Int32, output: Data) {
    let result = try await ChildProcess.output(executable, arguments)
    return (result.status, Data(result.bytes))
}

func temporaryDirectory() throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("sim-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    return url
}
