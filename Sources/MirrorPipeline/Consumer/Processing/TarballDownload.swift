import AsyncHTTPClient
import CoreMetrics
import Foundation
import Logging
import MirrorRuntime
import MirrorStore
import NIOCore
import NIOHTTP1
import NPMRegistry

/// Downloads one version's tarball, verifies it and commits it to the store: the bytes are hashed
/// as they stream in; a tarball up to ``inMemoryLimit`` is held in memory and ``TarballVerifier``
/// checks its archive there before writing it once to scratch, a larger one streams into scratch and
/// is checked from the file. Only a ``VerifiedTarball`` reaches the store. A failed verification is
/// downloaded once more before the version is refused.
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
                return .stored(try await download(name, version))
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
    /// A tarball up to this size is held in memory while it downloads and verified there before it
    /// is written once; a larger one streams into scratch and is verified from the file. Eight
    /// lanes hold at most 8 MiB this way; most npm tarballs are far smaller.
    static let inMemoryLimit = 1 << 20

    /// A version not stored for a reason that is not an error of the mirror.
    private struct VersionSkip: Error {
        let reason: String
    }

    /// Where a download's bytes are while it arrives.
    private enum Body: ~Copyable {
        /// Still small enough to hold (``TarballDownload/inMemoryLimit``).
        case memory(ByteBuffer)
        /// Streaming into a scratch file, with the bytes not written yet.
        case file(ScratchWriter, pending: ByteBuffer)
    }

    /// Downloads one tarball, hashing it as it arrives, then verifies and commits it in one hop to a
    /// blocking-work thread.
    private func download(_ name: String, _ version: Packument.Version) async throws -> StoredVersion {
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
        let length = response.headers.first(name: "Content-Length").flatMap(Int64.init)
        if let length, length > maxTarballSize {
            throw VersionSkip(reason: "too_large")
        }
        var digest = try DigestVerifier(integrity: version.integrity, shasum: version.shasum)
        // A writer dropped before `finish()` deletes its scratch file: every early exit below cleans up.
        var body: Body = if let length, length > Int64(Self.inMemoryLimit) {
            .file(try store.makeScratchWriter(), pending: ByteBuffer())
        } else {
            .memory(ByteBuffer())
        }
        do {
            for try await buffer in response.body {
                digest.update(buffer)
                if digest.byteCount > maxTarballSize {
                    throw VersionSkip(reason: "too_large")
                }
                body = try await append(buffer, to: body)
            }
        } catch let error as VersionSkip {
            throw error
        } catch let error as StoreError {
            throw error
        } catch {
            throw ProcessingFailure(code: .registry(.connection), message: "tarball download broke off: \(error)", isRetriable: true)
        }
        metrics.stage("tarball", since: start)
        metrics.tarballsDownloaded.increment()
        metrics.tarballBytes.increment(by: digest.byteCount)

        // Nothing enters the store before it is verified and durable: the verification, the write
        // (memory) or fsync (file) and the commit run in this order, on one blocking-work thread. The
        // rename's folder sync is left to the change's `makeDurable()` (ChangeProcessor), which runs
        // before its record is written.
        let match = try digest.finalize()
        let (verifier, store) = (verifier, store)
        let verifyStart = ContinuousClock.now
        let path: String
        switch consume body {
        case .memory(let bytes):
            path = try await BlockingWork.run {
                let writer = try store.makeScratchWriter()
                let verified = try verifier.verify(bytes: bytes, digest: match, name: name, version: version.version, writingTo: writer)
                return try Self.commit(verified.file) { try store.commitTarball(verified, deferringDirectorySync: true) }
            }
        case .file(var writer, let pending):
            if pending.readableBytes > 0 { try await writer.write(offPool: pending) }
            let complete = writer.handOver()
            path = try await BlockingWork.run {
                let file = try complete.finish()
                return try Self.commit(file) { try store.commitTarball(try verifier.verify(file, digest: match, name: name, version: version.version), deferringDirectorySync: true) }
            }
        }
        metrics.stage("verify", since: verifyStart)
        return StoredVersion(integrity: match.integrity, bytes: match.byteCount, path: path)
    }

    /// Adds one piece of the body: held while the whole stays under the limit; otherwise written to
    /// scratch off the cooperative pool in batches of at least ``writeBatch`` bytes (one hop to a
    /// blocking-work thread per batch, not per piece).
    private func append(_ buffer: ByteBuffer, to body: consuming Body) async throws -> Body {
        switch consume body {
        case .memory(var held):
            if held.readableBytes + buffer.readableBytes <= Self.inMemoryLimit {
                held.writeImmutableBuffer(buffer)
                return .memory(held)
            }
            var writer = try store.makeScratchWriter()
            held.writeImmutableBuffer(buffer)
            try await writer.write(offPool: held)
            return .file(writer, pending: ByteBuffer())
        case .file(var writer, var pending):
            if pending.readableBytes == 0, buffer.readableBytes >= Self.writeBatch {
                try await writer.write(offPool: buffer)
                return .file(writer, pending: pending)
            }
            pending.writeImmutableBuffer(buffer)
            if pending.readableBytes >= Self.writeBatch {
                try await writer.write(offPool: pending)
                pending.clear()
            }
            return .file(writer, pending: pending)
        }
    }

    /// Runs `commit` (which verifies `file` if needed and moves it into the store, returning its path
    /// relative to the root); the scratch file is removed when that fails.
    private static func commit(_ file: ScratchFile, _ commit: () throws -> String) throws -> String {
        do {
            return try commit()
        } catch {
            try? FileManager.default.removeItem(atPath: file.path)
            throw error
        }
    }
}
