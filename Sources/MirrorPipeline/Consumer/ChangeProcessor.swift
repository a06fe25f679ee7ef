import AsyncHTTPClient
import CoreMetrics
import NIOHTTP1
import Foundation
import Logging
import MirrorStore
import NIOCore
import NPMRegistry

/// Why a change could not be processed: a bounded code (a metric label and the dead-letter reason),
/// a message, and whether trying again later can help.
public struct ProcessingFailure: Error, Sendable, CustomStringConvertible {
    public let code: String
    public let message: String
    public let isRetriable: Bool
    /// The registry's `Retry-After`, when it sent one: the next attempt waits at least this long.
    public var retryAfter: Duration?
    public var description: String { "\(code): \(message)" }

    public init(code: String, message: String, isRetriable: Bool, retryAfter: Duration? = nil) {
        self.code = code
        self.message = message
        self.isRetriable = isRetriable
        self.retryAfter = retryAfter
    }

    /// A failed registry request: `registry_<code>`, retriable as the registry error says.
    init(registry error: RegistryError) {
        self.init(code: "registry_\(error.code)", message: error.description, isRetriable: error.isRetriable, retryAfter: error.retryAfter)
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
    /// Versions not stored, with a bounded reason (`too_large`, `tarball_not_found`, `integrityMismatch`, …).
    public var skippedVersions: [String: String] = [:]
    /// Versions that failed verification twice: the change is dead-lettered for them.
    public var failedVersions: [String: String] = [:]
    /// Tarballs removed by pruning.
    public var removedVersions: [String] = []
    /// The packument was older than the change announced when the wait ran out.
    public var stale = false
    /// The package's folder in the store, relative to `REMOTE_PACKAGE_DIR`.
    public var storePath: String?
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

    /// Processes `change`. Throws a retriable ``ProcessingFailure`` when the registry or the disk
    /// failed in a passing way (the caller retries later), a non-retriable one when the change can
    /// never be processed (the caller dead-letters it).
    ///
    /// `isSuperseded` says whether a later change of the same package has arrived; a wait for a
    /// lagging replica ends early when it has (outcome ``ProcessedChange/Outcome/superseded``).
    public func process(_ change: ChangeMessage, isSuperseded: @Sendable () -> Bool = { false }) async throws(ProcessingFailure) -> ProcessedChange {
        if change.id.hasPrefix("_design/") {
            return ProcessedChange(outcome: .skipped, skipReason: "design_document")
        }
        let (packument, body, stale): (Packument, ByteBuffer, Bool)
        switch try await packumentWait.fetch(change, isSuperseded: isSuperseded) {
        case .gone: return try await removeIfConfigured(change.id, ProcessedChange(outcome: .deleted))
        case .superseded: return ProcessedChange(outcome: .superseded)
        case .packument(let found, let foundBody, let foundStale): (packument, body, stale) = (found, foundBody, foundStale)
        }
        var result = ProcessedChange(outcome: packument.isUnpublished ? .unpublished : .stored, packument: packument, stale: stale)
        result.storePath = store.packageDirectory(for: packument.name)

        let withTarballs = settings.fetchTarballs && !packument.isUnpublished
        let keep = withTarballs ? keptVersions(packument) : []
        if withTarballs {
            try await storeTarballs(of: packument, keeping: keep, into: &result)
        }
        let start = ContinuousClock.now
        do {
            result.removedVersions = try await StoreIO.run { [store] in
                try body.withUnsafeReadableBytes { bytes in
                    _ = try store.storePackument(name: packument.name, rev: packument.rev ?? "0-unknown", json: bytes)
                }
                return withTarballs ? try store.prune(name: packument.name, keep: keep) : []
            }
        } catch {
            throw storeFailure(error)
        }
        metrics.stage("store", since: start)
        if packument.isUnpublished { return try await removeIfConfigured(change.id, result) }
        return result
    }

    /// The newest `versionsLimit` versions by publication time, plus `latest`.
    func keptVersions(_ packument: Packument) -> Set<String> {
        VersionRetention.versionsToKeep(versions: packument.versions.keys, time: packument.time, latest: packument.latest, limit: settings.versionsLimit)
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
            // A failed verification is tried once more from the network before the version is given up.
            var lastFailure: TarballVerificationError?
            var stored: StoredVersion?
            for _ in 0..<2 {
                do {
                    let verified = try await download(packument.name, info)
                    let start = ContinuousClock.now
                    let committedPath = try await StoreIO.run { [store] in try store.commitTarball(verified) }
                    metrics.stage("store", since: start)
                    stored = StoredVersion(integrity: verified.digest.integrity, bytes: verified.digest.byteCount, path: committedPath)
                    break
                } catch let failure as TarballVerificationError {
                    lastFailure = failure
                    metrics.verificationFailure(kind: failure.reason == .integrityMismatch ? "integrity" : "archive", reason: failure.reason.description)
                    logger.warning("Tarball failed verification", metadata: ["npm.id": "\(packument.name)", "npm.version": "\(version)", "reason": "\(failure.reason)"])
                } catch let skip as VersionSkip {
                    result.skippedVersions[version] = skip.reason
                    metrics.versionSkipped(reason: skip.reason)
                    break
                } catch let failure as ProcessingFailure {
                    throw failure
                } catch {
                    throw storeFailure(error)
                }
            }
            if let stored {
                result.newVersions[version] = stored
                result.storedVersions[version] = stored
            } else if let lastFailure, result.skippedVersions[version] == nil {
                result.failedVersions[version] = lastFailure.reason.description
                result.skippedVersions[version] = lastFailure.reason.description
            }
        }
    }

    /// A version not stored for a reason that is not an error of the mirror.
    private struct VersionSkip: Error {
        let reason: String
    }

    /// Streams one tarball into scratch, hashing as it goes, then verifies it.
    private func download(_ name: String, _ version: Packument.Version) async throws -> VerifiedTarball {
        let url = Packument.tarballURL(name: name, version: version, registryURL: settings.registryURL)
        let start = ContinuousClock.now
        let response: HTTPClientResponse
        do {
            response = try await packages.tarball(url: url)
        } catch let error where error.code == .notFound {
            throw VersionSkip(reason: "tarball_not_found")
        } catch {
            throw ProcessingFailure(registry: error)
        }
        if let length = response.headers.first(name: "Content-Length").flatMap(Int64.init), length > settings.maxTarballSize {
            throw VersionSkip(reason: "too_large")
        }
        var digest = try DigestVerifier(integrity: version.integrity, shasum: version.shasum)
        // A writer dropped before `finish()` deletes its scratch file: every early exit below cleans up.
        var writer = try store.makeScratchWriter()
        do {
            for try await buffer in response.body {
                digest.update(buffer)
                try writer.write(buffer)
                if writer.byteCount > settings.maxTarballSize {
                    throw VersionSkip(reason: "too_large")
                }
            }
        } catch let error as VersionSkip {
            throw error
        } catch let error as StoreError {
            throw error
        } catch {
            throw ProcessingFailure(code: "registry_connection", message: "tarball download broke off: \(error)", isRetriable: true)
        }
        let complete = writer.handOver()
        let file = try await StoreIO.run { try complete.finish() }
        metrics.stage("tarball", since: start)
        metrics.tarballsDownloaded.increment()
        metrics.tarballBytes.increment(by: digest.byteCount)
        let verifyStart = ContinuousClock.now
        do {
            let match = try digest.finalize()
            let verified = try await StoreIO.run { [verifier] in try verifier.verify(file, digest: match, name: name, version: version.version) }
            metrics.stage("verify", since: verifyStart)
            return verified
        } catch {
            try? FileManager.default.removeItem(atPath: file.path)
            throw error
        }
    }

    private func removeIfConfigured(_ name: String, _ result: ProcessedChange) async throws(ProcessingFailure) -> ProcessedChange {
        guard settings.removeUnpublished else { return result }
        do {
            _ = try await StoreIO.run { [store] in try store.removePackage(name: name) }
        } catch {
            throw storeFailure(error)
        }
        return result
    }

    private func storeFailure(_ error: any Error) -> ProcessingFailure {
        if let error = error as? StoreError {
            return ProcessingFailure(code: "store_\(error.shortDescription)", message: error.description, isRetriable: error.isRetriable)
        }
        return ProcessingFailure(code: "store_error", message: "\(error)", isRetriable: true)
    }

    private func fileSize(_ path: String) -> Int64? {
        (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.int64Value
    }
}
