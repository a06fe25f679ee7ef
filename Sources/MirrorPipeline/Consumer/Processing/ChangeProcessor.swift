import CoreMetrics
import Foundation
import Logging
import MirrorOffline
import MirrorRuntime
import MirrorSignatures
import MirrorStore
import NIOCore
import NPMRegistry

/// Why a change could not be processed: a bounded code (a metric label and the dead-letter reason),
/// a message, and whether trying again later can help.
public struct ProcessingFailure: Error, Sendable, CustomStringConvertible, RetryAfterCarrying {
    /// Bounded, snake_case: a metric label and a dead-letter reason.
    public struct Code: Hashable, Sendable, CustomStringConvertible, ExpressibleByStringLiteral {
        public let description: String

        public init(stringLiteral value: String) {
            description = value
        }

        /// `registry_<code>`: a failed registry request.
        public static func registry(_ code: RegistryError.Code) -> Code { Code(stringLiteral: "registry_\(code)") }
        /// `store_<code>`: a failed store operation.
        public static func store(_ code: StoreError.Code) -> Code { Code(stringLiteral: "store_\(code)") }
        /// Something that is not a `StoreError` failed in the store.
        public static let storeError: Code = "store_error"
        public static let packumentTooLarge: Code = "packument_too_large"
        public static let malformedPackument: Code = "malformed_packument"
        /// 404 for a change that is not a deletion, after the whole replica-lag wait.
        public static let packumentNotFound: Code = "packument_not_found"
        public static let cancelled: Code = "cancelled"
        /// An error of no known kind (treated as passing).
        public static let unexpected: Code = "unexpected"
    }

    public let code: Code
    public let message: String
    public let isRetriable: Bool
    /// The registry's `Retry-After`, when it sent one: the next attempt waits at least this long.
    public var retryAfter: Duration?
    public var description: String { "\(code): \(message)" }

    public init(code: Code, message: String, isRetriable: Bool, retryAfter: Duration? = nil) {
        self.code = code
        self.message = message
        self.isRetriable = isRetriable
        self.retryAfter = retryAfter
    }

    /// A failed store operation: `store_<code>`, retriable as the store error says (unknown errors are).
    init(store error: any Error) {
        if let error = error as? StoreError {
            self.init(code: .store(error.code), message: error.description, isRetriable: error.isRetriable)
        } else {
            self.init(code: .storeError, message: "\(error)", isRetriable: true)
        }
    }

    /// A failed registry request: `registry_<code>`, retriable as the registry error says.
    init(registry error: RegistryError) {
        self.init(code: .registry(error.code), message: error.description, isRetriable: error.isRetriable, retryAfter: error.retryAfter)
    }
}

/// What processing one change did.
public struct ProcessedChange: Sendable {
    public enum Outcome: String, Sendable {
        case stored, deleted, unpublished, skipped
        /// A later change of the same package was already received: this one was completed without
        /// reading the registry (that change reads the current packument).
        case superseded
    }

    public var outcome: Outcome
    /// Why it was skipped (`design_document`, `packument_too_large`, …).
    public var skipReason: String?
    public var packument: Packument?
    /// Tarballs stored by this change: version → (integrity, bytes, relative path).
    public var newVersions: [String: StoredVersion] = [:]
    /// Every version whose tarball is in the store after this change.
    public var storedVersions: [String: StoredVersion] = [:]
    /// Versions not stored, with a bounded reason (`too_large`, `tarball_not_found`, `integrity_mismatch`, …).
    public var skippedVersions: [String: String] = [:]
    /// Versions that failed verification twice: the change is dead-lettered for them.
    public var failedVersions: [String: String] = [:]
    /// Tarballs removed by pruning.
    public var removedVersions: [String] = []
    /// The packument was older than the change announced when the wait ran out.
    public var stale = false
    /// The package's folder in the store, relative to `REMOTE_PACKAGE_DIR`.
    public var storePath: String?
    /// The signature verdict of every kept version (the versions the retention rule keeps, with or
    /// without tarballs); empty with `SIGNATURE_POLICY=off`.
    public var signatures: [String: SignatureVerdict] = [:]
    /// The versions of the packument that pin sets keep, with the ids of those sets.
    public var pinned: [String: [String]] = [:]
    /// The attestations of every stored version that has them in `dist`.
    var provenance: [String: VersionSignatures.Provenance] = [:]
}

public struct StoredVersion: Sendable, Hashable {
    public var integrity: String?
    public var bytes: Int64?
    public var path: String
}

/// Fetches, verifies and stores everything one change needs: the packument and the tarballs of the
/// versions to keep. It writes nothing to the record store; ``ChangesConsumerService`` does.
public struct ChangeProcessor: Sendable {
    public struct Settings: Sendable {
        public var registryURL: String
        public var maxTarballSize: Int64
        public var packumentMaxSize: Int64
        public var versionsLimit: Int
        public var replicaLagWait: Duration
        public var removeUnpublished: Bool
        /// False: packuments only; tarballs are neither fetched nor pruned (`FETCH_TARBALLS=false`).
        public var fetchTarballs: Bool
        /// Longest wait between packument re-reads while the registry's replicas catch up.
        public var replicaRetryMax: Duration = .seconds(5)

        public init(registryURL: String, maxTarballSize: Int64, packumentMaxSize: Int64, versionsLimit: Int, replicaLagWait: Duration, removeUnpublished: Bool, fetchTarballs: Bool = true) {
            self.registryURL = registryURL
            self.maxTarballSize = maxTarballSize
            self.packumentMaxSize = packumentMaxSize
            self.versionsLimit = versionsLimit
            self.replicaLagWait = replicaLagWait
            self.removeUnpublished = removeUnpublished
            self.fetchTarballs = fetchTarballs
        }
    }

    let settings: Settings
    let packages: PackageClient
    let store: PackageStore
    let verifier: TarballVerifier
    let metrics: ConsumerMetrics
    let logger: Logger
    /// Signatures and provenance of the kept versions (``VersionSignatures``).
    let signatures: VersionSignatures
    /// The versions pin sets keep beside the newest `versionsLimit` (nil: no pins are read).
    var pins: PinIndex? = nil

    /// Processes `change`. Throws a retriable ``ProcessingFailure`` when the registry or the disk
    /// failed in a passing way (the caller retries later), a non-retriable one when the change can
    /// never be processed (the caller dead-letters it).
    ///
    /// `supersession` says when a later change of the same package has arrived; a wait for a
    /// lagging replica ends early when it has (outcome ``ProcessedChange/Outcome/superseded``).
    public func process(_ change: ChangeMessage, supersession: Supersession = .never) async throws(ProcessingFailure) -> ProcessedChange {
        if change.id.hasPrefix("_design/") {
            return ProcessedChange(outcome: .skipped, skipReason: "design_document")
        }
        let (packument, body, stale): (Packument, ByteBuffer, Bool)
        switch try await packumentWait.fetch(change, supersession: supersession) {
        case .gone: return try await removeIfConfigured(change.id, ProcessedChange(outcome: .deleted))
        case .superseded: return ProcessedChange(outcome: .superseded)
        case .packument(let found, let foundBody, let foundStale): (packument, body, stale) = (found, foundBody, foundStale)
        }
        var result = ProcessedChange(outcome: packument.isUnpublished ? .unpublished : .stored, packument: packument, stale: stale)
        result.storePath = store.packageDirectory(for: packument.name)

        let withTarballs = settings.fetchTarballs && !packument.isUnpublished
        // The signatures checked are those of the versions the retention rule keeps, with or without
        // tarballs: at most OLD_PACKAGE_VERSIONS_LIMIT + 1 P-256 verifications per change, not one per
        // version of a 600-version package (`npm-mirror verify` re-checks every version offline).
        let pinned = packument.isUnpublished ? [:] : await pinnedVersions(of: packument)
        result.pinned = pinned
        let retained = packument.isUnpublished ? [] : keptVersions(packument).union(pinned.keys)
        var keep = withTarballs ? retained : []
        checkSignatures(of: packument, versions: retained, keep: &keep, into: &result)
        if withTarballs {
            try await storeTarballs(of: packument, keeping: keep, into: &result)
            await checkProvenance(of: packument, into: &result)
        }
        let start = ContinuousClock.now
        let write: PackageStore.PackumentWrite
        do {
            (write, result.removedVersions) = try await BlockingWork.run { [store, keep, added = Set(result.newVersions.keys), settings] in
                // Check, write and prune as one step against other members writing this package.
                try store.withPackageLock(name: packument.name) {
                    let write = try body.withUnsafeReadableBytes { bytes in
                        try store.storePackument(name: packument.name, rev: packument.rev ?? "0-unknown", json: bytes, deferringDirectorySync: true)
                    }
                    var removed: [String] = []
                    if write.wasRefused {
                        // Pruning follows the current packument: of the tarballs this change added,
                        // those it does not keep go; nothing else is touched.
                        removed = try Self.removeUnkept(added, of: packument.name, in: store, versionsLimit: settings.versionsLimit, pinned: Set(pinned.keys))
                    } else if withTarballs {
                        removed = try store.prune(name: packument.name, keep: keep)
                    }
                    // One round for the folder syncs this change deferred (its tarballs', attestations' and
                    // packument's renames), before anything (the record) relies on them.
                    try store.makeDurable()
                    return (write, removed)
                }
            }
        } catch {
            throw storeFailure(error)
        }
        metrics.stage("store", since: start)
        switch write.outcome {
        case .olderRefused(let current), .conflictKept(let current):
            // Another member (or an earlier change whose replica-lag wait ran out) stored a newer
            // revision: this change is superseded by it, not failed.
            let conflict = { if case .conflictKept = write.outcome { true } else { false } }()
            metrics.staleWriteRefused(target: "store")
            logger.log(
                level: conflict ? .warning : .notice,
                conflict ? "A different revision of the same generation is stored; keeping it" : "An older revision than the stored one was read; keeping the stored one",
                metadata: ["npm.id": "\(change.id)", "npm.seq": "\(change.seq)", "npm.rev": "\(packument.rev ?? "-")", "stored_rev": "\(current)"]
            )
            result.outcome = .superseded
            result.skipReason = conflict ? "revision_conflict" : "older_revision"
            return result
        case .written, .unchanged:
            break
        }
        if packument.isUnpublished { return try await removeIfConfigured(change.id, result) }
        return result
    }

    /// Removes the tarballs among `added` that the package's current stored packument does not keep
    /// (all of them when it keeps none: unpublished, or unreadable) and no pin set pins. Returns the
    /// removed versions.
    static func removeUnkept(_ added: Set<String>, of name: String, in store: PackageStore, versionsLimit: Int, pinned: Set<String> = []) throws -> [String] {
        guard !added.isEmpty else { return [] }
        var kept: Set<String> = pinned
        if let bytes = try store.readPackument(name: name), let current = try? Packument.parse(bytes, expectedName: name), !current.isUnpublished {
            kept.formUnion(VersionRetention.versionsToKeep(versions: current.versions.keys, time: current.time, latest: current.latest, limit: versionsLimit))
        }
        let unkept = added.subtracting(kept)
        guard !unkept.isEmpty else { return [] }
        let held = Set(try store.storedVersions(name: name))
        return try store.prune(name: name, keep: held.subtracting(unkept))
    }

    /// Records each version's signature verdict; under `SIGNATURE_POLICY=require` a version that is
    /// not `verified` leaves `keep` (skipped with `signature_<verdict>`), and when that is `latest`
    /// the change is dead-lettered with `signature_invalid`.
    private func checkSignatures(of packument: Packument, versions: Set<String>, keep: inout Set<String>, into result: inout ProcessedChange) {
        for version in versions.sorted() {
            guard let info = packument.versions[version], let verdict = signatures.verdict(of: info, in: packument) else { continue }
            result.signatures[version] = verdict
            metrics.signature(verdict: verdict.rawValue)
            guard let refusal = signatures.refusal(verdict) else { continue }
            keep.remove(version)
            result.skippedVersions[version] = refusal
            metrics.versionSkipped(reason: refusal)
            if version == packument.latest { result.failedVersions[version] = "signature_invalid" }
        }
    }

    /// The attestations of every stored version whose `dist` has them.
    private func checkProvenance(of packument: Packument, into result: inout ProcessedChange) async {
        for version in result.storedVersions.keys.sorted() {
            guard let info = packument.versions[version], info.attestationsURL != nil,
                let provenance = await signatures.provenance(of: info, in: packument, packages: packages, store: store, logger: logger)
            else { continue }
            result.provenance[version] = provenance
            metrics.provenance(verdict: provenance.verdict.rawValue)
        }
    }

    /// The packument's versions that pin sets keep, each with the sets' ids.
    private func pinnedVersions(of packument: Packument) async -> [String: [String]] {
        guard let pins else { return [:] }
        return await pins.pins(of: packument.name).filter { packument.versions[$0.key] != nil }
    }

    /// The newest `versionsLimit` versions by publication time, plus `latest`.
    func keptVersions(_ packument: Packument) -> Set<String> {
        VersionRetention.versionsToKeep(versions: packument.versions.keys, time: packument.time, latest: packument.latest, limit: settings.versionsLimit)
    }

    private var tarballs: TarballDownload {
        TarballDownload(
            packages: packages, store: store, verifier: verifier, registryURL: settings.registryURL,
            maxTarballSize: settings.maxTarballSize, metrics: metrics, logger: logger
        )
    }

    private var packumentWait: PackumentWait {
        PackumentWait(
            packages: packages, maxBytes: Int(clamping: settings.packumentMaxSize), wait: settings.replicaLagWait,
            retryMax: settings.replicaRetryMax, metrics: metrics, logger: logger
        )
    }

    private func storeTarballs(of packument: Packument, keeping keep: Set<String>, into result: inout ProcessedChange) async throws(ProcessingFailure) {
        for version in keep.sorted() {
            guard let info = packument.versions[version] else { continue }
            let path: String
            do {
                path = try store.tarballPath(name: packument.name, version: version)
            } catch {
                result.skippedVersions[version] = "invalid_name"
                continue
            }
            if store.hasTarball(name: packument.name, version: version) {
                result.storedVersions[version] = StoredVersion(integrity: info.integrity, bytes: fileSize(store.root + "/" + path), path: path)
                continue
            }
            if let size = info.size, size > settings.maxTarballSize {
                result.skippedVersions[version] = "too_large"
                metrics.versionSkipped(reason: "too_large")
                continue
            }
            switch try await tarballs.fetch(packument.name, info) {
            case .stored(let stored):
                result.newVersions[version] = stored
                result.storedVersions[version] = stored
            case .skipped(let reason):
                result.skippedVersions[version] = reason
                metrics.versionSkipped(reason: reason)
            case .refused(let reason):
                result.failedVersions[version] = reason
                result.skippedVersions[version] = reason
            }
        }
    }

    private func removeIfConfigured(_ name: String, _ result: ProcessedChange) async throws(ProcessingFailure) -> ProcessedChange {
        guard settings.removeUnpublished else { return result }
        do {
            _ = try await BlockingWork.run { [store] in try store.removePackage(name: name) }
        } catch {
            throw storeFailure(error)
        }
        return result
    }

    private func storeFailure(_ error: any Error) -> ProcessingFailure {
        ProcessingFailure(store: error)
    }

    private func fileSize(_ path: String) -> Int64? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
    }
}
