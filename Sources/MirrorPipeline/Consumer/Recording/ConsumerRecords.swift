import MirrorJSON
import MirrorRecords
import MirrorSignatures
import NPMRegistry

/// The documents the consumer writes per change: one per package (id = the package name, replaced
/// on each change) and one per change (id `change:<seq>`, or `change:reconcile:<name>@<rev>` for a
/// reconciled one: ``RecordID``), created once, so replaying a change never makes a duplicate.
public enum ConsumerRecords {
    static func package(change: ChangeMessage, processed: ProcessedChange, processedAt: String) -> RecordDocument {
        var body: [String: JSONValue] = [
            "type": "package",
            "name": .string(change.id),
            "last_seq": change.feedSeq.map { .number(Double($0)) } ?? .null,
            "last_change_source": .string(change.source.rawValue),
            "last_change_rev": change.rev.map(JSONValue.string) ?? .null,
            "last_change_read_at": .string(change.readAt),
            "processed_at": .string(processedAt),
            "outcome": .string(processed.outcome.rawValue),
            "deleted": .bool(processed.outcome == .deleted),
            "unpublished": .bool(processed.outcome == .unpublished),
            "stale": .bool(processed.stale),
            "store_path": processed.storePath.map(JSONValue.string) ?? .null,
            "stored_versions": .object(processed.storedVersions.mapValues(storedVersion)),
            "skipped_versions": .object(processed.skippedVersions.mapValues(JSONValue.string)),
            "removed_versions": .array(processed.removedVersions.sorted().map(JSONValue.string)),
        ]
        if let reason = processed.skipReason { body["skip_reason"] = .string(reason) }
        if !processed.signatures.isEmpty {
            body["signatures"] = .object(processed.signatures.mapValues { .string($0.rawValue) })
        }
        if !processed.provenance.isEmpty {
            body["provenance"] = .object(processed.provenance.mapValues(provenance))
        }
        if !processed.pinned.isEmpty {
            // Version → the pin sets (`npm-mirror pin --list`) that keep it.
            body["pinned_versions"] = .object(processed.pinned.mapValues { .array($0.map(JSONValue.string)) })
        }
        // The revision the record describes, which orders its writes (``UpdatePolicy/forwardOnly(revisionField:)``):
        // the packument's, or for a deletion the change's (the deleted document's revision).
        if processed.outcome == .deleted { body["packument_rev"] = change.rev.map(JSONValue.string) ?? .null }
        if let packument = processed.packument {
            let latest = packument.latest.flatMap { packument.versions[$0] }
            body["packument_rev"] = packument.rev.map(JSONValue.string) ?? .null
            body["latest_version"] = packument.latest.map(JSONValue.string) ?? .null
            body["dist_tags"] = .object(packument.distTags.mapValues(JSONValue.string))
            body["version_count"] = .number(Double(packument.versions.count))
            body["modification_count"] = packument.revGeneration.map { .number(Double($0)) } ?? .null
            body["modified"] = packument.modified.map(JSONValue.string) ?? .null
            body["maintainers"] = .array(packument.maintainers.map(JSONValue.string))
            body["description"] = packument.description.map(JSONValue.string) ?? .null
            body["latest_author"] = latest?.author.map(JSONValue.string) ?? .null
            body["latest_dependencies"] = .object((latest?.dependencies ?? [:]).mapValues(JSONValue.string))
        }
        return RecordDocument(id: change.id, body: body, policy: .forwardOnly(revisionField: "packument_rev"))
    }

    static func change(change: ChangeMessage, processed: ProcessedChange?, deadLetter: DeadLetter?, processedAt: String) -> RecordDocument {
        var body: [String: JSONValue] = [
            "type": "change",
            "seq": change.feedSeq.map { .number(Double($0)) } ?? .null,
            "source": .string(change.source.rawValue),
            "id": .string(change.id),
            "rev": change.rev.map(JSONValue.string) ?? .null,
            "deleted": .bool(change.deleted),
            "read_at": .string(change.readAt),
            "processed_at": .string(processedAt),
            "outcome": .string(ChangeResult.decide(processed: processed?.outcome, deadLettered: deadLetter != nil).rawValue),
        ]
        if let processed {
            body["new_versions"] = .array(processed.newVersions.keys.sorted().map(JSONValue.string))
            body["skipped_versions"] = .object(processed.skippedVersions.mapValues(JSONValue.string))
        }
        if let deadLetter {
            body["dead_letter_reason"] = .string(deadLetter.reason)
            body["dead_letter_message"] = .string(deadLetter.message)
        }
        let id = change.feedSeq.map(RecordID.change)
            ?? (change.source == .pin ? RecordID.pinned(id: change.id, at: change.readAt) : RecordID.reconciled(id: change.id, rev: change.rev ?? ""))
        return RecordDocument(id: id, body: body, policy: .createOnly)
    }

    private static func provenance(_ provenance: VersionSignatures.Provenance) -> JSONValue {
        var object: [String: JSONValue] = [
            "verdict": .string(provenance.verdict.rawValue),
            "predicate_types": .array(provenance.predicateTypes.map(JSONValue.string)),
            "path": provenance.path.map(JSONValue.string) ?? .null,
        ]
        if let error = provenance.error { object["attestations_error"] = .string(error) }
        if let failure = provenance.failure { object["failure"] = .string(String(failure.prefix(500))) }
        return .object(object)
    }

    private static func storedVersion(_ version: StoredVersion) -> JSONValue {
        .object([
            "integrity": version.integrity.map(JSONValue.string) ?? .null,
            "bytes": version.bytes.map { .number(Double($0)) } ?? .null,
            "path": .string(version.path),
        ])
    }
}

/// A change that could not be processed, as written to the dead-letter topic.
struct DeadLetter: Sendable {
    /// Bounded reason code.
    var reason: String
    var message: String
    var attempts: Int

    func messageValue(original: [UInt8], change: ChangeMessage?, at: String) -> [UInt8] {
        var object: [String: JSONValue] = [
            "reason": .string(reason),
            "message": .string(String(message.prefix(2000))),
            "attempts": .number(Double(attempts)),
            "original": .string(String(decoding: original, as: UTF8.self)),
            "at": .string(at),
        ]
        if let change {
            object["seq"] = .number(Double(change.seq))
            object["id"] = .string(change.id)
        }
        return JSONValue.object(object).serializedBytes
    }
}

/// A small event per stage, on the events topic.
struct PipelineEvent: Sendable {
    var stage: String
    var change: ChangeMessage
    var version: String?
    var bytes: Int64?
    var reason: String?

    func value(at: String) -> [UInt8] {
        var object: [String: JSONValue] = ["stage": .string(stage), "seq": .number(Double(change.seq)), "id": .string(change.id), "at": .string(at)]
        if let version { object["version"] = .string(version) }
        if let bytes { object["bytes"] = .number(Double(bytes)) }
        if let reason { object["reason"] = .string(reason) }
        return JSONValue.object(object).serializedBytes
    }
}
