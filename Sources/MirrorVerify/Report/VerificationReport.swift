import Foundation
import MirrorJSON
import MirrorSignatures

/// What ``StoreVerification`` found: counts, every failure, and how long it took.
public struct VerificationReport: Sendable {
    /// The store root verified.
    public var storeRoot: String
    /// Package folders walked.
    public var packages = 0
    /// Stored tarballs hashed (those whose version is in the stored packument with a usable digest).
    public var tarballs = 0
    /// Bytes of tarballs hashed.
    public var bytesHashed: Int64 = 0
    /// Kept versions' signature verdicts (every verdict present, zero when none).
    public var signatures: [SignatureVerdict: Int] = Dictionary(uniqueKeysWithValues: SignatureVerdict.allCases.map { ($0, 0) })
    /// Stored attestations files' verdicts (every verdict present, zero when none).
    public var attestations: [ProvenanceVerdict: Int] = Dictionary(uniqueKeysWithValues: ProvenanceVerdict.allCases.map { ($0, 0) })
    /// Where the records were read from; nil when no record store is configured or present.
    public var recordsLocation: String?
    /// Package records read (live packages: not deleted, not unpublished).
    public var records = 0
    /// `stored_versions` paths of those records checked for existence.
    public var recordPaths = 0
    /// Every failure, sorted by path, then kind.
    public var failures: [VerificationFailure] = []
    /// `FETCH_TARBALLS` as verified (false: every packument version is kept).
    public var fetchTarballs = true
    /// Package folders checked at once.
    public var concurrency = 1
    public var elapsed: Duration = .zero

    public init(storeRoot: String) {
        self.storeRoot = storeRoot
    }

    /// True when nothing failed: every check held.
    public var holds: Bool { failures.isEmpty }

    /// Tarball bytes hashed per second of the whole run, in MB (10^6 bytes) per second.
    public var megabytesPerSecond: Double {
        let seconds = elapsedSeconds
        return seconds > 0 ? Double(bytesHashed) / 1_000_000 / seconds : 0
    }

    public var elapsedSeconds: Double {
        let (seconds, attoseconds) = elapsed.components
        return Double(seconds) + Double(attoseconds) / 1e18
    }

    /// Failures per kind.
    public var failuresByKind: [VerificationFailure.Kind: Int] {
        failures.reduce(into: [:]) { $0[$1.kind, default: 0] += 1 }
    }

    /// The report as JSON (what `npm-mirror verify --json` prints).
    public var json: JSONValue {
        .object([
            "holds": .bool(holds),
            "store": .string(storeRoot),
            "fetch_tarballs": .bool(fetchTarballs),
            "packages": .number(Double(packages)),
            "tarballs": .number(Double(tarballs)),
            "bytes_hashed": .number(Double(bytesHashed)),
            "signatures": .object(Dictionary(uniqueKeysWithValues: signatures.map { ($0.key.rawValue, JSONValue.number(Double($0.value))) })),
            "attestations": .object(Dictionary(uniqueKeysWithValues: attestations.map { ($0.key.rawValue, JSONValue.number(Double($0.value))) })),
            "records": recordsLocation.map { location in
                .object(["location": .string(location), "package_records": .number(Double(records)), "paths_checked": .number(Double(recordPaths))])
            } ?? .null,
            "failure_count": .number(Double(failures.count)),
            "failures_by_kind": .object(Dictionary(uniqueKeysWithValues: failuresByKind.map { ($0.key.description, JSONValue.number(Double($0.value))) })),
            "failures": .array(failures.map(\.json)),
            "elapsed_seconds": .number((elapsedSeconds * 1000).rounded() / 1000),
            "megabytes_per_second": .number((megabytesPerSecond * 10).rounded() / 10),
            "concurrency": .number(Double(concurrency)),
        ])
    }

    /// ``json`` as compact text (members in ascending order).
    public var jsonText: String { json.serialized }

    /// The summary for people: counts, then the failures (at most `failureLimit` of them listed).
    public func summaryLines(failureLimit: Int = 200) -> [String] {
        func counts<Key: RawRepresentable & Hashable>(_ tally: [Key: Int], order: [Key]) -> String where Key.RawValue == String {
            order.map { "\($0.rawValue) \(tally[$0] ?? 0)" }.joined(separator: ", ")
        }
        var lines: [String] = []
        lines.append("store           \(storeRoot)" + (fetchTarballs ? "" : " (FETCH_TARBALLS=false: every packument version is kept)"))
        lines.append("packages        \(packages)")
        lines.append("tarballs        \(tarballs) hashed, \(ByteCountFormatter.string(fromByteCount: bytesHashed, countStyle: .file))")
        lines.append("signatures      " + counts(signatures, order: SignatureVerdict.allCases))
        lines.append("attestations    " + counts(attestations, order: ProvenanceVerdict.allCases))
        if let recordsLocation {
            lines.append("records         \(recordsLocation): \(records) package records, \(recordPaths) stored files checked")
        } else {
            lines.append("records         none configured or present (not checked)")
        }
        lines.append(String(format: "time            %.2f s, %.1f MB/s of tarballs, %ld at once", elapsedSeconds, megabytesPerSecond, concurrency))
        if holds {
            lines.append("result          everything holds")
            return lines
        }
        let kinds = failuresByKind.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        lines.append("result          \(failures.count) failures: \(kinds)")
        for failure in failures.prefix(failureLimit) { lines.append("  " + failure.description) }
        if failures.count > failureLimit {
            lines.append("  … and \(failures.count - failureLimit) more (--json lists them all)")
        }
        return lines
    }
}
