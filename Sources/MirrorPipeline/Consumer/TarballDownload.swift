import AsyncHTTPClient
import CoreMetrics
import Foundation
import Logging
import MirrorBlocking
import MirrorStore
import NIOCore
import NIOHTTP1
import NPMRegistry

/// Downloads one version's tarball into scratch, verifies it and commits it to the store: the
/// bytes are hashed as they stream in, then ``TarballVerifier`` checks digest and archive, and only
/// a ``VerifiedTarball`` reaches the store. A failed verification is downloaded once more before the
/// version is refused.
struct TarballDownload: Sendable {
    /// What became of the version.
    enum Result: Sendable {
        case stored(StoredVersion)
        /// Not stored for a reason that is not an error of the mirror (`too_large`, `tarball_not_found`).
        case skipped(String)
        /// Refused by verification twice: the reason (`integrityMismatch`, an archive reason).
        case refused(String)
    }

    let packages: PackageClient
    let store: PackageStore
    let verifier: TarballVerifier
    let registryURL: String
    let maxTarballSize: Int64
    let metrics: ConsumerMetrics
    let logger: Logger

    /// Throws a retriable ``ProcessingFailure`` for a passing registry or disk failure.
    func fetch(_ name: String, _ version: Packument.Version) async throws(ProcessingFailure) -> Result {
        // A failed verification is tried once more from the network before the version is given up.
        var lastFailure: TarballVerificationError?
        for _ in 0..<2 {
            do {
                let verified = try await download(name, version)
                let start = ContinuousClock.now
                let committedPath = try await BlockingWork.run { [store] in try store.commitTarball(verified) }
                metrics.stage("store", since: start)
                return .stored(StoredVersion(integrity: verified.digest.integrity, bytes: verified.digest.byteCount, path: committedPath))
            } catch let failure as TarballVerificationError {
                lastFailure = failure
                metrics.verificationFailure(kind: failure.reason == .integrityMismatch ? "integrity" : "archive", reason: failure.reason.description)
                logger.warning("Tarball failed verification", metadata: ["npm.id": "\(name)", "npm.version": "\(version.version)", "reason": "\(failure.reason)"])
            } catch let skip as VersionSkip {
                return .skipped(skip.reason)
            } catch let failure as ProcessingFailure {
                throw failure
            } catch {
                throw ProcessingFailure(store: error)
            }
        }
        return .refused(lastFailure?.reason.description ?? "verification_failed")
    }

    /// Bytes gathered before one write to the scratch file.
    static let writeBatch = 256 << 10

    /// A version not stored for a reason that is not an error of the mirror.
    private struct VersionSkip: Error {
        let reason: String
    }

    /// Streams one tarball into scratch, hashing as it goes, then verifies it.
    private func download(_ name: String, _ version: Packument.Version) async throws -> VerifiedTarball {
        let url = Packument.tarballURL(name: name, version: version, registryURL: registryURL)
        let start = ContinuousClock.now
        let response: HTTPClientResponse
        do {
            response = try await packages.tarball(url: url)
        } catch let error where error.code == .notFound {
            throw VersionSkip(reason: "tarball_not_found")
        } catch {
            throw ProcessingFailure(registry: error)
        }
        if let length = response.headers.first(name: "Content-Length").flatMap(Int64.init), length > maxTarballSize {
            throw VersionSkip(reason: "too_large")
        }
        var digest = try DigestVerifier(integrity: version.integrity, shasum: version.shasum)
        // A writer dropped before `finish()` deletes its scratch file: every early exit below cleans up.
        var writer = try store.makeScratchWriter()
        // The body's pieces are written off the cooperative pool in batches of at least
        // `Self.writeBatch` bytes: one hop to a blocking-work thread per batch, not per piece.
        var pending = ByteBuffer()
        var received: Int64 = 0
        do {
            for try await buffer in response.body {
                digest.update(buffer)
                received += Int64(buffer.readableBytes)
                if received > maxTarballSize {
                    throw VersionSkip(reason: "too_large")
                }
                if pending.readableBytes == 0, buffer.readableBytes >= Self.writeBatch {
                    try await writer.write(offPool: buffer)
                    continue
                }
                pending.writeImmutableBuffer(buffer)
                if pending.readableBytes >= Self.writeBatch {
                    try await writer.write(offPool: pending)
                    pending.clear()
                }
            }
            if pending.readableBytes > 0 { try await writer.write(offPool: pending) }
        } catch let error as VersionSkip {
            throw error
        } catch let error as StoreError {
            throw error
        } catch {
            throw ProcessingFailure(code: .registry(.connection), message: "tarball download broke off: \(error)", isRetriable: true)
        }
        let complete = writer.handOver()
        let file = try await BlockingWork.run { try complete.finish() }
        metrics.stage("tarball", since: start)
        metrics.tarballsDownloaded.increment()
        metrics.tarballBytes.increment(by: digest.byteCount)
        let verifyStart = ContinuousClock.now
        do {
            let match = try digest.finalize()
            let verified = try await BlockingWork.run { [verifier] in try verifier.verify(file, digest: match, name: name, version: version.version) }
            metrics.stage("verify", since: verifyStart)
            return verified
        } catch {
            try? FileManager.default.removeItem(atPath: file.path)
            throw error
        }
    }
}
