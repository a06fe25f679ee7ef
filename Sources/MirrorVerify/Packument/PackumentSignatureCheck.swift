import Foundation
import MirrorJSON
import MirrorSignatures

/// `npm-mirror verify --packument FILE`: the registry signatures of every version of one packument
/// file, with the packument's `name` and each version's `time` entry, against the trusted keys.
public struct PackumentSignatureCheck: Sendable {
    /// The packument's `name`.
    public var name: String
    /// Each version's verdict, by version.
    public var verdicts: [String: SignatureVerdict]

    /// Versions per verdict (every verdict present, zero when none).
    public var summary: [SignatureVerdict: Int] {
        var counts = Dictionary(uniqueKeysWithValues: SignatureVerdict.allCases.map { ($0, 0) })
        for verdict in verdicts.values { counts[verdict, default: 0] += 1 }
        return counts
    }

    /// True when every version that has signatures is `verified`. A version without signatures is
    /// `missing` and does not fail the check by itself (old versions, other registries).
    public var holds: Bool { verdicts.values.allSatisfy { $0 == .verified || $0 == .missing } }

    /// Checks a packument document's bytes.
    ///
    /// - Throws: ``VerifyError`` `malformed_packument` when it is not a JSON object with a string
    ///   `name` and a `versions` object (`source` names it in the message).
    public init(packument bytes: some Collection<UInt8>, keys: TrustedKeys, source: String = "the packument") throws {
        let document: JSONValue
        do {
            document = try JSONValue(parsing: bytes)
        } catch {
            throw VerifyError(.malformedPackument, "\(source) is not JSON: \(error)")
        }
        guard document.objectValue != nil else { throw VerifyError(.malformedPackument, "\(source) is not a JSON object") }
        guard let name = document["name"]?.stringValue, !name.isEmpty else {
            throw VerifyError(.malformedPackument, "\(source) has no \"name\" string")
        }
        guard let versions = document["versions"]?.objectValue else {
            throw VerifyError(.malformedPackument, "\(source) has no \"versions\" object")
        }
        let time = document["time"]?.objectValue ?? [:]
        let verifier = SignatureVerifier(keys: keys)
        self.name = name
        self.verdicts = versions.reduce(into: [:]) { verdicts, entry in
            let dist = entry.value["dist"] ?? .null
            verdicts[entry.key] = verifier.verify(packageName: name, version: entry.key, dist: dist, time: time[entry.key]?.stringValue)
        }
    }

    /// Checks the packument file at `path`.
    ///
    /// - Throws: ``VerifyError`` `unreadable_file` (missing, a folder, no permission) or `malformed_packument`.
    public init(contentsOfFile path: String, keys: TrustedKeys) throws {
        let bytes: Data
        do {
            bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw VerifyError(.unreadableFile, "cannot read the packument file \(path): \(error.localizedDescription)")
        }
        try self.init(packument: bytes, keys: keys, source: "the packument file \(path)")
    }

    /// `{"name": …, "versions": {"1.0.0": {"signature": "verified"}, …}, "summary": {"verified": n, …}, "holds": bool}`.
    public var json: JSONValue {
        .object([
            "name": .string(name),
            "versions": .object(verdicts.mapValues { .object(["signature": .string($0.rawValue)]) }),
            "summary": .object(Dictionary(uniqueKeysWithValues: summary.map { ($0.key.rawValue, JSONValue.number(Double($0.value))) })),
            "holds": .bool(holds),
        ])
    }

    /// ``json`` as compact text (members in ascending order).
    public var jsonText: String { json.serialized }

    /// One line per version (sorted), then the counts and the result.
    public var lines: [String] {
        let width = verdicts.keys.map(\.count).max() ?? 0
        var lines = verdicts.keys.sorted().map { version in
            "\(name)@\(version.padding(toLength: width, withPad: " ", startingAt: 0))  \(verdicts[version]!.rawValue)"
        }
        lines.append(SignatureVerdict.allCases.map { "\($0.rawValue) \(summary[$0] ?? 0)" }.joined(separator: ", "))
        lines.append(holds ? "every signed version verifies" : "a signature does not verify")
        return lines
    }
}
