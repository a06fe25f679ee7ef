import Foundation
import MirrorJSON
import MirrorSignatures
import MirrorTestSupport
import MirrorVerify
import Testing

/// Packuments made of the real signatures in `Tests/Fixtures/npm-signatures/vectors.json`.
enum SignatureFixtures {
    static func vectors(_ list: String) throws -> [JSONValue] {
        let json = try JSONValue(parsing: Array(try Data(contentsOf: recordedFixture("npm-signatures", "vectors.json"))))
        return try #require(json[list]?.arrayValue)
    }

    static func vector(_ list: String, _ name: String, why: String? = nil) throws -> JSONValue {
        try #require(try vectors(list).first { $0["name"]?.stringValue == name && (why == nil || $0["why"]?.stringValue?.contains(why!) == true) })
    }

    /// A packument of `vector`'s package with its version signed as in the vector, plus `extra`
    /// versions (dist objects), and a `time` entry for the vector's version.
    static func packument(_ vector: JSONValue, time: String = "2025-06-24T00:00:00.000Z", extra: [String: JSONValue] = [:]) throws -> [UInt8] {
        let name = try #require(vector["name"]?.stringValue)
        let version = try #require(vector["version"]?.stringValue)
        var dist: [String: JSONValue] = ["integrity": try #require(vector["integrity"]), "signatures": try #require(vector["signatures"])]
        if let shasum = vector["shasum"] { dist["shasum"] = shasum }
        var versions: [String: JSONValue] = [version: ["name": .string(name), "version": .string(version), "dist": .object(dist)]]
        for (extraVersion, extraDist) in extra { versions[extraVersion] = ["version": .string(extraVersion), "dist": extraDist] }
        let document: JSONValue = [
            "name": .string(name), "dist-tags": ["latest": .string(version)],
            "time": .object([version: .string(time), "created": "2015-01-01T00:00:00.000Z"]),
            "versions": .object(versions),
        ]
        return document.serializedBytes
    }
}

@Suite("Packument signatures (verify --packument)")
struct PackumentSignatureCheckTests {
    @Test("pnpm@10.12.4, its real signature and npm's built-in keys: verified")
    func realSignatureVerifies() throws {
        let bytes = try SignatureFixtures.packument(try SignatureFixtures.vector("valid", "pnpm"))
        let check = try PackumentSignatureCheck(packument: bytes, keys: .npmBuiltIn)
        #expect(check.name == "pnpm")
        #expect(check.verdicts == ["10.12.4": .verified])
        #expect(check.holds)
        #expect(check.json["versions"]?["10.12.4"]?["signature"] == "verified")
        #expect(check.json["summary"]?["verified"]?.intValue == 1)
        #expect(check.json["summary"]?["invalid"]?.intValue == 0)
    }

    @Test("a version without signatures is missing and does not fail the check; a forged one does")
    func missingDoesNotFailInvalidDoes() throws {
        let valid = try SignatureFixtures.vector("valid", "kms-demo")
        let unsigned: JSONValue = ["integrity": "sha512-AAAA", "shasum": "0000000000000000000000000000000000000000"]
        let check = try PackumentSignatureCheck(
            packument: try SignatureFixtures.packument(valid, time: "2023-01-01T00:00:00.000Z", extra: ["0.0.1": unsigned]), keys: .npmBuiltIn)
        #expect(check.verdicts == ["1.0.0": .verified, "0.0.1": .missing])
        #expect(check.holds)

        let forged = try SignatureFixtures.vector("invalid", "kms-demo", why: "another message")
        let bad = try PackumentSignatureCheck(packument: try SignatureFixtures.packument(forged, time: "2023-01-01T00:00:00.000Z"), keys: .npmBuiltIn)
        #expect(bad.verdicts == ["1.0.0": .invalid])
        #expect(!bad.holds)
        #expect(bad.summary[.invalid] == 1)
    }

    @Test("the retired key's expiry is judged at the version's time entry")
    func timeEntryIsUsed() throws {
        let vector = try SignatureFixtures.vector("valid", "kms-demo")
        let before = try PackumentSignatureCheck(packument: try SignatureFixtures.packument(vector, time: "2025-01-28T23:59:59.999Z"), keys: .npmBuiltIn)
        let after = try PackumentSignatureCheck(packument: try SignatureFixtures.packument(vector, time: "2025-01-29T00:00:00.000Z"), keys: .npmBuiltIn)
        #expect(before.verdicts["1.0.0"] == .verified)
        #expect(after.verdicts["1.0.0"] == .expiredKey)
        #expect(!after.holds)
    }

    @Test("a missing file, a folder, not JSON, no name, no versions: clear errors")
    func badFiles() throws {
        let directory = try temporaryDirectory(prefix: "npm-mirror-verify-packument")
        let missing = try #require(throws: VerifyError.self) { try PackumentSignatureCheck(contentsOfFile: directory + "/nope.json", keys: .npmBuiltIn) }
        #expect(missing.code == .unreadableFile && missing.message.contains("nope.json"))
        #expect(throws: VerifyError.self) { try PackumentSignatureCheck(contentsOfFile: directory, keys: .npmBuiltIn) }
        for (body, problem) in [("{not json", "not JSON"), ("[1]", "not a JSON object"), ("{\"versions\":{}}", "\"name\""), ("{\"name\":\"x\"}", "\"versions\"")] {
            let path = directory + "/p.json"
            try Data(body.utf8).write(to: URL(fileURLWithPath: path))
            let error = try #require(throws: VerifyError.self) { try PackumentSignatureCheck(contentsOfFile: path, keys: .npmBuiltIn) }
            #expect(error.code == .malformedPackument)
            #expect(error.message.contains(problem) && error.message.contains(path), "\(error)")
        }
    }
}
