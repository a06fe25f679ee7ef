import AsyncHTTPClient
import CouchDBDouble
import Foundation
import MirrorTestSupport
import MirrorRecords
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Testing

/// Replays the recording of a real CouchDB 3.5.0 (`Tests/Fixtures/couchdb-recorded`) against a fresh double,
/// request by request in order, and compares what the double answers with what CouchDB answered.
@Suite("CouchDB double replays the CouchDB 3.5.0 recording", .timeLimit(.minutes(1)))
struct CouchDBDoubleReplayTests {
    static let fixtureURL = recordedFixture("couchdb-recorded", "couchdb-3.5.0-responses.json")

    static func loadExchanges() throws -> [JSONValue] {
        let data = try Data(contentsOf: Self.fixtureURL)
        return try #require(try JSONValue(parsing: Array(data)).arrayValue)
    }

    @Test func replayMatchesRecording() async throws {
        let exchanges = try Self.loadExchanges()
        try #require(exchanges.count >= 25, "the recording has its exchanges")
        // The recording's admin is admin:admin; the double gets another password so the mapping is exercised.
        var compared = 0
        try await withCouchDBDouble(adminUser: "admin", adminPassword: "replay-secret") { double in
            // Revisions are hashes of that run: a recorded rev that the double answered with its own rev is
            // replaced by the double's in later requests (revs that never existed, like 9-000…, stay as recorded).
            var revisions: [String: String] = [:]
            for (index, exchange) in exchanges.enumerated() {
                let request = ReplayComparison.substituting(revisions, in: try #require(exchange["request"]))
                let expected = try #require(exchange["response"])
                let actual = try await Self.send(request, to: double, recordedAdmin: "admin:admin")
                let differences = ReplayComparison.differences(expected: expected, actual: actual)
                ReplayComparison.learnRevisions(recorded: expected["body"], actual: actual.body, into: &revisions)
                #expect(differences.isEmpty, "#\(index) \(exchange["note"]?.stringValue ?? ""): \(differences.joined(separator: "; "))")
                compared += 1
            }
        }
        #expect(compared == exchanges.count)
    }

    /// The comparison is not vacuous: it accepts the recording itself and rejects altered copies.
    @Test func comparisonRejectsDeviations() throws {
        let exchanges = try Self.loadExchanges()
        for exchange in exchanges {
            let response = try #require(exchange["response"])
            #expect(ReplayComparison.differences(expected: response, actual: ReplayComparison.Answer(recorded: response)).isEmpty)
        }
        func answer(_ note: String, _ change: (inout [String: JSONValue]) -> Void) throws -> (JSONValue, ReplayComparison.Answer) {
            let exchange = try #require(exchanges.first { $0["note"]?.stringValue == note }, "\(note)")
            let response = try #require(exchange["response"])
            var changed = try #require(response.objectValue)
            change(&changed)
            return (response, ReplayComparison.Answer(recorded: .object(changed)))
        }
        let mutations: [(String, (inout [String: JSONValue]) -> Void)] = [
            ("update without _rev", { $0["status"] = 201 }),
            ("update without _rev", { $0["body"] = ["error": "conflict", "reason": "Conflict."] }),
            ("create database with a wrong password", { $0["body"] = ["error": "unauthorized", "reason": "You are not a server admin."] }),
            ("create document", { $0["body"] = ["ok": true, "id": "lodash", "rev": "2-827bb773cc7a1714cee6225154e7506d"] }),
            ("create document", { $0["body"] = ["ok": true, "id": "lodash", "rev": "1-nothex"] }),
            ("create document", { $0["body"] = ["ok": true, "id": "lodash"] }),
            ("create document", { $0["headers"] = ["Content-Type": "application/json", "Cache-Control": "must-revalidate"] }),
            ("read document", { $0["body"] = ["_id": "lodash", "_rev": "2-b58d46c225cb5cdc2b9310c64aa7c673", "name": "lodash", "latest": "4.17.21"] }),
            ("HEAD document (ETag carries the rev)", {
                $0["headers"] = ["Content-Type": "application/json", "Cache-Control": "must-revalidate", "ETag": "2-b58d46c225cb5cdc2b9310c64aa7c673"]
            }),
            ("all docs", { body in
                var all = body["body"]!.objectValue!
                all["total_rows"] = 5
                body["body"] = .object(all)
            }),
            ("_bulk_docs: new, stale rev, current rev, unknown rev -- per-document results", { body in
                var results = body["body"]!.arrayValue!
                results.swapAt(0, 1)
                body["body"] = .array(results)
            }),
            ("changes feed", { body in
                var changes = body["body"]!.objectValue!
                changes["last_seq"] = "7-g1AAAACbeJzLYWBgYMpgTmEQTM4vTc5ISXIwNDLXMwBCwxyQVCJDUv3"
                body["body"] = .object(changes)
            }),
        ]
        for (note, mutation) in mutations {
            let (expected, altered) = try answer(note, mutation)
            #expect(!ReplayComparison.differences(expected: expected, actual: altered).isEmpty, "not detected: \(note)")
        }
    }

    static func send(_ recorded: JSONValue, to double: CouchDBDouble, recordedAdmin: String) async throws -> ReplayComparison.Answer {
        let method = try #require(recorded["method"]?.stringValue)
        let path = try #require(recorded["path"]?.stringValue)
        var request = HTTPClientRequest(url: double.url.absoluteString + path)
        request.method = .init(rawValue: method)
        switch recorded["auth"] {
        case .string(let auth):
            // The recording's admin credentials become the double's; any other (wrong) credentials are sent as recorded.
            let credentials = auth == recordedAdmin ? "\(double.adminUser):\(double.adminPassword)" : auth
            request.headers.add(name: "Authorization", value: "Basic " + Data(credentials.utf8).base64EncodedString())
        default:
            break
        }
        switch recorded["body"] {
        case .none, .some(.null):
            break
        case .some(.string(let raw)):  // sent as is (the malformed-JSON exchange)
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: raw))
        case .some(let json):
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: json.serializedBytes))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        var headers: [String: String] = [:]
        for header in response.headers { headers[header.name.lowercased()] = header.value }
        let body: JSONValue? = bytes.readableBytes == 0 ? nil : try JSONValue(parsing: bytes.readableBytesView)
        return ReplayComparison.Answer(status: Int(response.status.code), headers: headers, body: body)
    }
}

/// What "the double answers as CouchDB did" means.
///
/// - status: equal.
/// - headers: `Content-Type` and `Cache-Control` equal; `ETag` present exactly when recorded, quoted, and a revision with
///   the recorded generation when the recorded one is a revision; `Location` present exactly when recorded, same path.
/// - body: same JSON shape recursively (objects: the same keys; arrays: the same length, element by element);
///   revisions (`N-<32 hex>`) compared by generation and format, sequences (`N-…`) by number; `uuid`/`git_sha` by type only;
///   every other value — `error`, `reason`, ids, keys, counts, flags, document fields — equal.
enum ReplayComparison {
    struct Answer {
        var status: Int
        var headers: [String: String]  // lowercased names
        var body: JSONValue?

        init(status: Int, headers: [String: String], body: JSONValue?) {
            self.status = status
            self.headers = headers
            self.body = body
        }

        /// A recorded response as an answer (to test the comparison itself).
        init(recorded: JSONValue) {
            self.status = recorded["status"]?.intValue ?? 0
            var headers: [String: String] = [:]
            for (name, value) in recorded["headers"]?.objectValue ?? [:] { headers[name.lowercased()] = value.stringValue }
            self.headers = headers
            self.body = recorded["body"].flatMap { $0.isNull ? nil : $0 }
        }
    }

    static let opaqueKeys: Set<String> = ["uuid", "git_sha"]
    static let sequenceKeys: Set<String> = ["seq", "last_seq", "update_seq", "purge_seq"]

    static func differences(expected: JSONValue, actual: Answer) -> [String] {
        var differences: [String] = []
        let status = expected["status"]?.intValue ?? -1
        if status != actual.status { differences.append("status \(actual.status), recorded \(status)") }

        let recordedHeaders = expected["headers"]?.objectValue ?? [:]
        for name in ["Content-Type", "Cache-Control"] {
            let recorded = recordedHeaders[name]?.stringValue
            if recorded != actual.headers[name.lowercased()] {
                differences.append("header \(name) \(actual.headers[name.lowercased()] ?? "absent"), recorded \(recorded ?? "absent")")
            }
        }
        switch (recordedHeaders["ETag"]?.stringValue, actual.headers["etag"]) {
        case (.none, .none): break
        case (.some(let recorded), .some(let etag)):
            if !(etag.count > 2 && etag.hasPrefix("\"") && etag.hasSuffix("\"")) {
                differences.append("ETag \(etag) is not quoted")
            } else if isRevision(unquote(recorded)) {
                if !isRevision(unquote(etag)) || generation(unquote(etag)) != generation(unquote(recorded)) {
                    differences.append("ETag \(etag), recorded \(recorded)")
                }
                if let rev = actual.body?["rev"]?.stringValue ?? actual.body?["_rev"]?.stringValue, rev != unquote(etag) {
                    differences.append("ETag \(etag) is not the body's rev \(rev)")
                }
            }
        case (let recorded, let etag):
            differences.append("ETag \(etag ?? "absent"), recorded \(recorded ?? "absent")")
        }
        switch (recordedHeaders["Location"]?.stringValue, actual.headers["location"]) {
        case (.none, .none): break
        case (.some(let recorded), .some(let location)):
            if URL(string: recorded)?.path != URL(string: location)?.path
                || recorded.split(separator: "/").last != location.split(separator: "/").last
            {
                differences.append("Location \(location), recorded \(recorded)")
            }
        case (let recorded, let location):
            differences.append("Location \(location ?? "absent"), recorded \(recorded ?? "absent")")
        }

        let recordedBody = expected["body"].flatMap { $0.isNull ? nil : $0 }
        switch (recordedBody, actual.body) {
        case (.none, .none): break
        case (.some(let recorded), .some(let body)): compare(recorded, body, path: "body", key: nil, into: &differences)
        case (let recorded, let body):
            differences.append("body \(body?.serialized ?? "absent"), recorded \(recorded?.serialized ?? "absent")")
        }
        return differences
    }

    static func compare(_ expected: JSONValue, _ actual: JSONValue, path: String, key: String?, into differences: inout [String]) {
        switch (expected, actual) {
        case (.object(let recorded), .object(let members)):
            let missing = Set(recorded.keys).subtracting(members.keys)
            let extra = Set(members.keys).subtracting(recorded.keys)
            if !missing.isEmpty { differences.append("\(path): missing \(missing.sorted())") }
            if !extra.isEmpty { differences.append("\(path): unexpected \(extra.sorted())") }
            for (name, value) in recorded {
                if let other = members[name] { compare(value, other, path: "\(path).\(name)", key: name, into: &differences) }
            }
        case (.array(let recorded), .array(let elements)):
            if recorded.count != elements.count {
                differences.append("\(path): \(elements.count) elements, recorded \(recorded.count)")
            }
            for (index, (value, other)) in zip(recorded, elements).enumerated() {
                compare(value, other, path: "\(path)[\(index)]", key: key, into: &differences)
            }
        case (.string(let recorded), .string(let value)):
            if let key, opaqueKeys.contains(key) { return }
            if isRevision(recorded) {
                if !isRevision(value) || generation(value) != generation(recorded) {
                    differences.append("\(path): revision \(value), recorded \(recorded) (generation and format must match)")
                }
            } else if let key, sequenceKeys.contains(key) {
                if generation(value) == nil || generation(value) != generation(recorded) {
                    differences.append("\(path): sequence \(value), recorded \(recorded)")
                }
            } else if recorded != value {
                differences.append("\(path): \(value.debugDescription), recorded \(recorded.debugDescription)")
            }
        default:
            if expected != actual { differences.append("\(path): \(actual.serialized), recorded \(expected.serialized)") }
        }
    }

    /// Pairs the recorded revisions with the double's at the same places of the two bodies.
    static func learnRevisions(recorded: JSONValue?, actual: JSONValue?, into revisions: inout [String: String]) {
        switch (recorded, actual) {
        case (.object(let recorded)?, .object(let members)?):
            for (key, value) in recorded { learnRevisions(recorded: value, actual: members[key], into: &revisions) }
        case (.array(let recorded)?, .array(let elements)?):
            for (value, other) in zip(recorded, elements) { learnRevisions(recorded: value, actual: other, into: &revisions) }
        case (.string(let recorded)?, .string(let value)?) where isRevision(recorded) && isRevision(value):
            revisions[recorded] = value
        default:
            break
        }
    }

    /// The recorded request with every known recorded revision (in the path or the body) replaced by the double's.
    static func substituting(_ revisions: [String: String], in request: JSONValue) -> JSONValue {
        func replace(_ value: JSONValue) -> JSONValue {
            switch value {
            case .string(let string): return .string(revisions[string] ?? string)
            case .array(let elements): return .array(elements.map(replace))
            case .object(let members): return .object(members.mapValues(replace))
            default: return value
            }
        }
        guard var members = request.objectValue else { return request }
        if let body = members["body"], body.objectValue != nil { members["body"] = replace(body) }
        if var path = members["path"]?.stringValue {
            for (recorded, actual) in revisions where path.contains(recorded) {
                path = path.replacingOccurrences(of: recorded, with: actual)
            }
            members["path"] = .string(path)
        }
        return .object(members)
    }

    /// `N-` followed by 32 lowercase hex digits.
    static func isRevision(_ text: String) -> Bool {
        guard let dash = text.firstIndex(of: "-"), Int(text[..<dash]) != nil else { return false }
        let hash = text[text.index(after: dash)...]
        return hash.count == 32 && hash.allSatisfy { $0.isHexDigit && !$0.isUppercase }
    }

    static func generation(_ text: String) -> Int? {
        text.firstIndex(of: "-").flatMap { Int(text[..<$0]) }
    }

    static func unquote(_ text: String) -> String {
        text.hasPrefix("\"") && text.hasSuffix("\"") && text.count >= 2 ? String(text.dropFirst().dropLast()) : text
    }
}
