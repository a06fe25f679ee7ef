import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A scratch file that passed both the digest check and the archive inspection: the only thing
/// ``PackageStore/commitTarball(_:)`` accepts. It can only be made by ``TarballVerifier``.
///
/// It remembers the file's identity (device, inode, size, modification time) at verification;
/// the commit refuses a file that changed since.
public struct VerifiedTarball: Hashable, Sendable {
    public let file: ScratchFile
    public let name: String
    public let version: String
    public let digest: DigestMatch
    public let summary: TarballSummary
    /// The downloaded file as verified: a file changed since is refused at the commit.
    let identity: FileStamp
}

/// Verifies a downloaded tarball: digest (``DigestVerifier``) and archive (``TarballInspector``).
///
/// This does blocking file I/O: call it off the cooperative thread pool.
public struct TarballVerifier: Sendable {
    public var inspector: TarballInspector

    public init(limits: TarballInspector.Limits = .init()) {
        self.inspector = TarballInspector(limits: limits)
    }

    /// Use when the digest was computed while downloading (the usual case).
    ///
    /// - Parameter digest: the result of ``DigestVerifier/finalize()`` over the same bytes.
    /// - Throws: ``TarballVerificationError``.
    public func verify(_ file: ScratchFile, digest: DigestMatch, name: String, version: String) throws -> VerifiedTarball {
        guard let identity = FileStamp(file.path) else {
            throw TarballVerificationError(.ioError, "cannot stat \(file.path)")
        }
        guard identity.size == digest.byteCount else {
            throw TarballVerificationError(
                .integrityMismatch,
                "the digest covered \(digest.byteCount) bytes but the file has \(identity.size)"
            )
        }
        let summary = try inspector.inspect(fileAt: file.path, expectedName: name, expectedVersion: version)
        return VerifiedTarball(file: file, name: name, version: version, digest: digest, summary: summary, identity: identity)
    }

    /// Verifies a whole download held in memory (digest computed while it arrived), and only then
    /// writes it to `writer`'s new scratch file and makes that durable: one pass over the bytes for
    /// the archive check, no read-back from disk.
    ///
    /// - Throws: ``TarballVerificationError``, or ``StoreError`` from the write (the scratch file is
    ///   removed on any failure).
    public func verify(bytes: ByteBuffer, digest: DigestMatch, name: String, version: String, writingTo writer: consuming ScratchWriter) throws -> VerifiedTarball {
        guard bytes.readableBytes == digest.byteCount else {
            writer.discard()
            throw TarballVerificationError(.integrityMismatch, "the digest covered \(digest.byteCount) bytes but \(bytes.readableBytes) are held")
        }
        let summary: TarballSummary
        do {
            summary = try bytes.withUnsafeReadableBytes { [inspector] in try inspector.inspect(bytes: $0, expectedName: name, expectedVersion: version) }
        } catch {
            writer.discard()
            throw error
        }
        try writer.write(bytes)
        let file = try writer.finish()
        guard let identity = FileStamp(file.path) else {
            unlink(file.path)
            throw TarballVerificationError(.ioError, "cannot stat \(file.path)")
        }
        return VerifiedTarball(file: file, name: name, version: version, digest: digest, summary: summary, identity: identity)
    }

    /// Reads the file once in 64 KiB chunks to hash it, then inspects it.
    ///
    /// - Throws: ``TarballVerificationError``.
    public func verify(_ file: ScratchFile, integrity: String?, shasum: String?, name: String, version: String) throws -> VerifiedTarball {
        var verifier = try DigestVerifier(integrity: integrity, shasum: shasum)
        let fd = open(file.path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TarballVerificationError(.ioError, "cannot open \(file.path): errno \(errno)") }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: ioChunkSize)
        while true {
            let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw TarballVerificationError(.ioError, "cannot read \(file.path): errno \(errno)")
            }
            if count == 0 { break }
            buffer.withUnsafeBytes { verifier.update(UnsafeRawBufferPointer(rebasing: $0[0..<count])) }
        }
        return try verify(file, digest: try verifier.finalize(), name: name, version: version)
    }
}
