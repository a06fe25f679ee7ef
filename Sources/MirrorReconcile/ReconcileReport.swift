import Foundation
import MirrorJSON

/// What a reconciliation found so far, and where it is: the summary it prints, the `--json` document,
/// and (the same document) the checkpoint an interrupted walk resumes from.
public struct ReconcileReport: Sendable, Hashable {
    /// Nothing is sent: the walk only reports.
    public var dryRun: Bool
    /// The registry's `update_seq` when the walk began: the list is at least this new.
    public var updateSeqAtStart: Int64?
    /// The last package id of the registry's list the walk has finished (nil: none yet).
    public var after: String?
    /// The walk reached the end of the list.
    public var complete = false
    /// `_all_docs` pages read.
    public var pages = 0
    /// Packages the registry listed (design documents left out).
    public var listed = 0
    /// Of those, packages the mirror has a record of.
    public var matched = 0
    public var missing = 0
    public var stale = 0
    public var vanished = 0
    /// Missing and stale packages sent as changes.
    public var sent = 0
    /// `_design/` documents the list held (not packages).
    public var designDocuments = 0
    /// `total_rows` of the last page: every document the registry lists, design documents included.
    public var registryTotalRows: Int64?
    /// Seconds the walk has taken, over every run that resumed it.
    public var seconds: Double = 0
    /// The first ``sampleLimit`` packages of each kind: enough to look at, bounded whatever the count.
    public var samples: [ReconcileFinding.Kind: [String]] = [:]

    public static let sampleLimit = 50

    public init(dryRun: Bool) {
        self.dryRun = dryRun
    }

    /// The share of listed packages the mirror holds at the registry's revision or newer: 1 when it
    /// is complete. (Vanished records are not in it: the registry does not list them.)
    public var coverage: Double {
        listed == 0 ? 1 : Double(listed - missing - stale) / Double(listed)
    }

    mutating func record(_ findings: [ReconcileFinding]) {
        for finding in findings {
            switch finding.kind {
            case .missing: missing += 1
            case .stale: stale += 1
            case .vanished: vanished += 1
            }
            if samples[finding.kind, default: []].count < Self.sampleLimit { samples[finding.kind, default: []].append(finding.id) }
        }
    }

    // MARK: JSON

    public var json: JSONValue {
        var object: [String: JSONValue] = [
            "dry_run": .bool(dryRun),
            "complete": .bool(complete),
            "pages": .number(Double(pages)),
            "listed": .number(Double(listed)),
            "matched": .number(Double(matched)),
            "missing": .number(Double(missing)),
            "stale": .number(Double(stale)),
            "vanished": .number(Double(vanished)),
            "sent": .number(Double(sent)),
            "design_documents": .number(Double(designDocuments)),
            "coverage": .number(coverage),
            "seconds": .number((seconds * 1000).rounded() / 1000),
            "samples": .object(Dictionary(uniqueKeysWithValues: ReconcileFinding.Kind.allCases.map { ($0.rawValue, .array((samples[$0] ?? []).map(JSONValue.string))) })),
        ]
        object["update_seq_at_start"] = updateSeqAtStart.map { .number(Double($0)) } ?? .null
        object["after"] = after.map(JSONValue.string) ?? .null
        object["registry_total_rows"] = registryTotalRows.map { .number(Double($0)) } ?? .null
        return .object(object)
    }

    /// Reads a report written by ``json`` (a checkpoint); nil when the document is not one.
    public init?(json: JSONValue) {
        guard let object = json.objectValue, let dryRun = object["dry_run"]?.boolValue else { return nil }
        self.init(dryRun: dryRun)
        func count(_ key: String) -> Int { object[key]?.intValue ?? 0 }
        complete = object["complete"]?.boolValue ?? false
        pages = count("pages")
        listed = count("listed")
        matched = count("matched")
        missing = count("missing")
        stale = count("stale")
        vanished = count("vanished")
        sent = count("sent")
        designDocuments = count("design_documents")
        seconds = object["seconds"]?.numberValue ?? 0
        updateSeqAtStart = object["update_seq_at_start"]?.intValue.map(Int64.init)
        after = object["after"]?.stringValue
        registryTotalRows = object["registry_total_rows"]?.intValue.map(Int64.init)
        for kind in ReconcileFinding.Kind.allCases {
            if let names = object["samples"]?[kind.rawValue]?.arrayValue?.compactMap(\.stringValue), !names.isEmpty { samples[kind] = names }
        }
    }

    // MARK: Summary

    /// The human summary: one line per figure.
    public func summaryLines() -> [String] {
        var lines = [
            "registry        \(listed) packages listed in \(pages) pages" + (updateSeqAtStart.map { " (update_seq \($0) at start)" } ?? "")
                + (designDocuments > 0 ? ", \(designDocuments) design documents passed over" : ""),
            "mirror          \(matched) of them recorded",
            "missing         \(missing)" + Self.sample(samples[.missing], of: missing),
            "stale           \(stale)" + Self.sample(samples[.stale], of: stale),
            "vanished        \(vanished)" + Self.sample(samples[.vanished], of: vanished),
            "coverage        \(String(format: "%.6f", coverage))",
            dryRun ? "sent            nothing (--dry-run)" : "sent            \(sent) changes to the changes topic",
            "time            \(String(format: "%.1f", seconds)) s",
        ]
        lines.append(
            complete
                ? "result          " + (missing + stale + vanished == 0 ? "the mirror holds every package the registry lists" : "reconciled; run again once the consumers have caught up")
                : "result          interrupted after \(after ?? "the start"); the next run resumes there")
        return lines
    }

    private static func sample(_ names: [String]?, of count: Int) -> String {
        guard let names, !names.isEmpty else { return "" }
        return ": " + names.prefix(5).joined(separator: ", ") + (count > 5 ? ", …" : "")
    }
}

/// The checkpoint of an unfinished walk (`UPDATE_SEQ_DIR/reconcile.json`): the report so far.
public struct ReconcileCheckpointFile: Sendable {
    public let path: String

    public init(directory: String) {
        path = directory + "/reconcile.json"
    }

    /// The saved report; nil when there is none. A file that is not a report is an error naming it.
    public func read() throws -> ReconcileReport? {
        guard let data = FileManager.default.contents(atPath: path) else { return nil }
        guard let value = try? JSONValue(parsing: String(decoding: data, as: UTF8.self)), let report = ReconcileReport(json: value) else {
            throw ReconcileError(message: "\(path) is not a reconciliation checkpoint; remove it or run with --restart")
        }
        return report
    }

    /// Replaces the file at once (a temporary file renamed over it).
    public func write(_ report: ReconcileReport) throws {
        let directory = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        try Data(report.json.serializedBytes).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}
