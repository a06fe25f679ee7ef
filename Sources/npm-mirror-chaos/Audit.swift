import Crypto
import Foundation
import MirrorHarness
import MirrorKafka
import MirrorPipeline
import MirrorRecords
import MirrorStore
import NPMRegistry
import RegistrySimulator

/// What a rig's run left behind, checked against the promises: every change in the topic recorded
/// (or dead-lettered with a reason), once; no partial file in the store or scratch; every stored
/// tarball matching its integrity; offsets committed to the end; nothing written outside the rig.
struct Audit: Sendable {
    var messages = 0
    var distinctSeqs = 0
    var changesLost = 0
    var duplicates = 0
    var deadLettered: [String: Int] = [:]
    var deadLetteredIDs: Set<String> = []
    var partialFiles = 0
    var badTarballs = 0
    var tarballsChecked = 0
    var filesOutside = 0
    var uncommittedPartitions = 0
    var problems: [String] = []

    var clean: Bool { changesLost == 0 && duplicates == 0 && partialFiles == 0 && badTarballs == 0 && filesOutside == 0 && uncommittedPartitions == 0 && problems.isEmpty }

    static func of(_ rig: Rig, allowedDeadLetters: Set<String> = []) async throws -> Audit {
        var audit = Audit()
        let messages = try await TopicReader.readAll(rig.topic, bootstrapServers: rig.kafka.bootstrapServers, logger: rig.logger)
        let changes = messages.compactMap { try? ChangeMessage.decode($0.value) }
        audit.messages = messages.count
        let seqs = Set(changes.map(\.seq))
        audit.distinctSeqs = seqs.count

        // Records: one change document per seq, written once (revision 1), and a package document per name.
        let documents = try await rig.documents()
        for seq in seqs {
            guard let rev = documents[RecordID.change(Int64(seq))] else {
                audit.changesLost += 1
                continue
            }
            if !rev.hasPrefix("1-") { audit.duplicates += 1 }
        }
        // Dead letters: each with a reason, and only the expected kinds.
        var deadLetteredIDs: Set<String> = []
        for message in try await TopicReader.readAll(rig.deadLetterTopic, bootstrapServers: rig.kafka.bootstrapServers, logger: rig.logger) {
            let object = (try? JSONSerialization.jsonObject(with: Data(message.value))) as? [String: Any]
            let reason = object?["reason"] as? String ?? "(none)"
            audit.deadLettered[reason, default: 0] += 1
            if let id = object?["id"] as? String { deadLetteredIDs.insert(id) }
        }
        audit.deadLetteredIDs = deadLetteredIDs

        // A package record for every package with a change that was not dead-lettered.
        let names = Set(changes.map(\.id))
        let missingPackages = names.filter { documents[$0] == nil && !deadLetteredIDs.contains($0) }
        if !missingPackages.isEmpty {
            audit.problems.append("\(missingPackages.count) packages without a record, e.g. \(missingPackages.sorted().prefix(3))")
        }
        let unexpected = audit.deadLettered.keys.filter { !allowedDeadLetters.contains($0) }
        if !unexpected.isEmpty {
            audit.problems.append("unexpected dead letters: \(unexpected.sorted().map { "\($0) ×\(audit.deadLettered[$0]!)" })")
        }

        // The store: no temporary file left, scratch empty, every tarball what the registry says it is.
        let store = try PackageStore(root: rig.storeRoot, scratch: rig.scratch, shardLength: 3)
        audit.partialFiles += try store.orphanTemporaryFiles().count
        audit.partialFiles += ((try? FileManager.default.contentsOfDirectory(atPath: rig.scratch)) ?? []).count
        try await audit.checkTarballs(in: store, names: names, rig: rig)

        // Nothing outside the rig's folders.
        audit.filesOutside = Self.filesOutside(rig)

        let uncommitted = try await TopicReader.uncommitted(rig.topic, group: rig.group, bootstrapServers: rig.kafka.bootstrapServers, logger: rig.logger)
        audit.uncommittedPartitions = uncommitted.count
        if !uncommitted.isEmpty {
            audit.problems.append("offsets not committed to the end: \(uncommitted.map { "p\($0.partition) \($0.committed)/\($0.high)" })")
        }
        return audit
    }

    /// Every stored tarball against the integrity in the packument stored beside it (the registry may
    /// have moved on, or deleted the package, since).
    private mutating func checkTarballs(in store: PackageStore, names: Set<String>, rig: Rig) async throws {
        for name in names.sorted() {
            let versions = (try? store.storedVersions(name: name)) ?? []
            guard !versions.isEmpty else { continue }
            guard let json = try? store.readPackument(name: name), let packument = try? Packument.parse(json, expectedName: name) else {
                problems.append("\(name): tarballs stored without a readable packument")
                continue
            }
            for version in versions {
                tarballsChecked += 1
                guard let integrity = packument.versions[version]?.integrity, integrity.hasPrefix("sha512-"),
                    let path = try? store.root + "/" + store.tarballPath(name: name, version: version),
                    let bytes = FileManager.default.contents(atPath: path)
                else {
                    badTarballs += 1
                    continue
                }
                let digest = Data(SHA512.hash(data: bytes)).base64EncodedString()
                if "sha512-\(digest)" != integrity { badTarballs += 1 }
            }
        }
    }

    /// Files in the rig's folder that belong to none of its parts.
    private static func filesOutside(_ rig: Rig) -> Int {
        let allowed = ["packages", "scratch", "update_seq", "logs"]
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: rig.directory)) ?? []
        return entries.filter { !allowed.contains($0) }.count
    }
}

/// Whether the mirror ended at the registry's newest revision of each package: the store's current
/// packument revision and the package record's `packument_rev` both equal to the simulator's
/// current `_rev`.
struct RevisionAudit: Sendable {
    var checked = 0
    /// `name: registry R, store S, record P` for each package that is behind (or ahead).
    var mismatches: [String] = []

    var clean: Bool { mismatches.isEmpty }

    /// Checks `names` (packages the registry serves: not deleted ones, which have no packument).
    static func of(_ rig: Rig, names: [String]) async throws -> RevisionAudit {
        var audit = RevisionAudit()
        let store = try PackageStore(root: rig.storeRoot, scratch: rig.scratch, shardLength: 3)
        let records = try await rig.records.readAll(limit: Int(Int32.max))
        let packumentRevs = Dictionary(
            records.compactMap { record in record.body["type"]?.stringValue == "package" ? (record.id, record.body["packument_rev"]?.stringValue) : nil },
            uniquingKeysWith: { first, _ in first }
        )
        for name in names.sorted() {
            audit.checked += 1
            let registry = rig.simulator.currentRev(of: name)
            let stored = try? store.currentPackumentRevision(name: name)
            let recorded = packumentRevs[name] ?? nil
            if registry == nil || stored != registry || recorded != registry {
                audit.mismatches.append("\(name): registry \(registry ?? "none"), store \(stored ?? "none"), record \(recorded ?? "none")")
            }
        }
        return audit
    }
}
