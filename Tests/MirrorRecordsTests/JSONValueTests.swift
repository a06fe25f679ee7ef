import Foundation
import MirrorRecords
import Testing

@Suite("JSONValue")
struct JSONValueTests {
    @Test func serializesWithSortedKeysAndCompactNumbers() throws {
        let value: JSONValue = ["zeta": 1, "alpha": [true, nil, 2.5, "x"], "Mid": ["b": -3, "a": 1e20]]
        #expect(value.serialized == #"{"Mid":{"a":1e+20,"b":-3},"alpha":[true,null,2.5,"x"],"zeta":1}"#)
    }

    @Test func escapesStrings() throws {
        let value: JSONValue = .string("quote\" backslash\\ newline\n tab\t bell\u{07} ünï @types/node")
        #expect(value.serialized == #""quote\" backslash\\ newline\n tab\t bell\u0007 ünï @types/node""#)
        #expect(try JSONValue(parsing: value.serialized) == value)
    }

    @Test func roundTripsThroughTextAndCodable() throws {
        let value: JSONValue = ["name": "@types/node", "versions": ["1.0.0": ["size": 1234, "deprecated": false]], "n": 0.1]
        #expect(try JSONValue(parsing: value.serializedBytes) == value)
        let encoder = JSONEncoder()
        encoder.outputFormatting = .sortedKeys
        #expect(try JSONDecoder().decode(JSONValue.self, from: encoder.encode(value)) == value)
    }

    @Test func rejectsMalformedText() {
        #expect(throws: (any Error).self) { try JSONValue(parsing: #"{"name": "#) }
    }

    /// The one-pass parser reads what Foundation's decoder reads, value for value.
    @Test func parsesAsFoundationDoes() throws {
        var texts = [
            #"{"ok":true,"id":"@types/node","rev":"3-9f2c"}"#,
            #"[{"id":"a","error":"conflict","reason":"Document update conflict."},{"ok":true,"id":"b","rev":"1-x"}]"#,
            #" { "a" : [ 1 , -0 , 0.5 , -12.25e-3 , 1E+2 , 123456789012345678 ] , "b" : { } , "c" : [ ] } "#,
            #""esc \" \\ \/ \b \f \n \r \t \u00e9 \ud83d\ude00""#,
            "null", "true", "false", "0", "-1.5e300", #""""#,
        ]
        // Recorded answers of a real CouchDB 3.5.0 (a JSON document of its own).
        texts.append(String(decoding: try Data(contentsOf: CouchDBDoubleReplayTests.fixtureURL), as: UTF8.self))
        var state: UInt64 = 7
        for _ in 0..<300 {
            texts.append(String(decoding: Self.generatedValue(depth: 0, state: &state).serializedBytes, as: UTF8.self))
        }
        for text in texts {
            let expected = try JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))
            #expect(try JSONValue(parsing: text) == expected, "\(text.prefix(200))")
        }
    }

    @Test func rejectsWhatFoundationRejects() {
        let bad = [
            "", " ", "{", "}", "[1 2]", #"{"a":}"#, #"{"a" 1}"#, #"{a:1}"#, "01", "1.", ".5", "-", "1e", "1e+",
            "+1", "tru", "nul", "truex", #""abc"#, #""\x""#, #""\u12""#, "{}{}", "[]]", "1 2", "NaN", "Infinity",
        ]
        for text in bad {
            #expect((try? JSONDecoder().decode(JSONValue.self, from: Data(text.utf8))) == nil, "Foundation read \(text)")
            #expect(throws: (any Error).self, "parsed \(text)") { try JSONValue(parsing: text) }
        }
        // Foundation lets a trailing comma pass; JSON's grammar (RFC 8259) and CouchDB do not.
        for text in ["[1,]", #"{"a":1,}"#] {
            #expect(throws: (any Error).self, "parsed \(text)") { try JSONValue(parsing: text) }
        }
    }

    @Test func limitsNesting() throws {
        let depth = JSONValue.maximumParsingDepth
        #expect(try JSONValue(parsing: String(repeating: "[", count: depth) + String(repeating: "]", count: depth)).arrayValue != nil)
        #expect(throws: (any Error).self) {
            try JSONValue(parsing: String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000))
        }
    }

    /// A value of every kind, chosen by a linear congruential sequence: the same values on every run.
    private static func generatedValue(depth: Int, state: inout UInt64) -> JSONValue {
        func next(_ bound: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(bound))
        }
        switch next(depth > 3 ? 4 : 6) {
        case 0: return .null
        case 1: return .bool(next(2) == 0)
        case 2:
            let choices: [Double] = [0, -1, 42, 1e21, -2.5e-7, 0.1, Double(next(2_000_000) - 1_000_000) / 1000]
            return .number(choices[next(choices.count)])
        case 3:
            let pieces = ["a", "é", "\"", "\\", "\n", "\u{01}", "😀", "@scope/name", " ", "/"]
            return .string((0..<next(8)).map { _ in pieces[next(pieces.count)] }.joined())
        case 4:
            return .array((0..<next(5)).map { _ in generatedValue(depth: depth + 1, state: &state) })
        default:
            var members: [String: JSONValue] = [:]
            for index in 0..<next(5) { members["k\(index)-\(depth)"] = generatedValue(depth: depth + 1, state: &state) }
            return .object(members)
        }
    }
}

@Suite("CouchDBRecordStore parts")
struct CouchDBRecordStorePartsTests {
    @Test func percentEncodesPathSegments() {
        #expect(CouchDBClient.percentEncoded("@types/node") == "%40types%2Fnode")
        #expect(CouchDBClient.percentEncoded("a b+c%") == "a%20b%2Bc%25")
        #expect(CouchDBClient.percentEncoded("ü") == "%C3%BC")
        #expect(CouchDBClient.percentEncoded("plain-name_1.0~x") == "plain-name_1.0~x")
    }

    @Test func configurationTakesCredentialsFromTheURLAndHidesThem() throws {
        let configuration = try CouchDBConfiguration(url: "http://admin:s3cr%40t@127.0.0.1:5984/", database: "registry")
        #expect(configuration.user == "admin")
        #expect(configuration.password == "s3cr@t")
        #expect(!configuration.url.absoluteString.contains("s3cr"))
        #expect(!configuration.description.contains("s3cr"))
        let explicit = try CouchDBConfiguration(url: "http://admin:old@127.0.0.1:5984", database: "registry", user: "ops", password: "new")
        #expect(explicit.user == "ops")
        #expect(explicit.password == "new")
    }

    @Test func configurationRejectsBadValuesWithoutPrintingThePassword() {
        let badURL = #expect(throws: RecordStoreError.self) {
            _ = try CouchDBConfiguration(url: "ftp://admin:hunter2@host", database: "db")
        }
        #expect(badURL?.code == .invalidConfiguration)
        #expect(badURL?.description.contains("hunter2") == false)
        for name in ["Upper", "_users", "1abc", "", "with space"] {
            #expect(throws: RecordStoreError.self) { _ = try CouchDBConfiguration(url: "http://h:5984", database: name) }
        }
        #expect(CouchDBConfiguration.isValidDatabaseName("npm-registry/records_v1$(x)+y"))
    }

    @Test func errorCodesAreBoundedLabels() {
        let error = RecordStoreError(code: .unavailable, reason: "connection refused", operation: "GET /db")
        #expect(error.shortDescription == "unavailable")
        #expect(error.isRetriable)
        #expect(RecordStoreError(code: .conflict, reason: "").isRetriable == false)
        #expect(RecordStoreError(code: .serverError, reason: "").isRetriable)
    }
}
