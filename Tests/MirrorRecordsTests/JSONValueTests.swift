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
