import Foundation
import MirrorJSON
import MirrorSignatures
import Testing

/// The npm signature fixtures, located from this file: `<repo>/Tests/Fixtures/npm-signatures/`.
enum Fixtures {
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // MirrorSignaturesTests
        .deletingLastPathComponent()  // Tests
        .appendingPathComponent("Fixtures/npm-signatures")

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    static func json(_ name: String) throws -> JSONValue {
        try JSONValue(parsing: try bytes(name))
    }

    static func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    /// One entry of `vectors.json`'s `valid` or `invalid` list.
    struct Vector: CustomTestStringConvertible, Sendable {
        var name: String
        var version: String
        var integrity: String
        var signatures: [DistSignature]
        var why: String?

        var testDescription: String { "\(name)@\(version)" + (why.map { ": \($0)" } ?? "") }
    }

    static func vectors(_ list: String) throws -> [Vector] {
        let entries = try #require(try json("vectors.json")[list]?.arrayValue)
        return try entries.map { entry in
            Vector(
                name: try #require(entry["name"]?.stringValue),
                version: try #require(entry["version"]?.stringValue),
                integrity: try #require(entry["integrity"]?.stringValue),
                signatures: try DistSignature.list(from: entry["signatures"]),
                why: entry["why"]?.stringValue)
        }
    }

    static func vector(_ name: String) throws -> Vector {
        try #require(try vectors("valid").first { $0.name == name })
    }

    /// `attestations-sigstore-1.0.0.json`, parsed.
    static func sigstoreAttestations() throws -> AttestationsResponse {
        try AttestationsResponse(parsing: try bytes("attestations-sigstore-1.0.0.json"))
    }
}

/// `PublishTime.parse` of a literal the test knows is a time.
func time(_ text: String) throws -> Date {
    try #require(PublishTime.parse(text))
}

/// The key ids of the two real registry keys.
enum KeyIDs {
    static let retired = "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA"
    static let current = "SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U"
}

/// `base64` in the URL-safe alphabet without padding.
func urlSafe(_ base64: String) -> String {
    String(base64.map { $0 == "+" ? "-" : $0 == "/" ? "_" : $0 }.filter { $0 != "=" })
}
