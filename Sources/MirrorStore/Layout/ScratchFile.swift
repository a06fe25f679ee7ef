import MirrorRuntime
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A file in the scratch directory (`LOCAL_PACKAGE_DIR`), named with the temporary prefix so
/// ``PackageStore/cleanScratch()`` removes it if the process dies before it is committed.
public struct ScratchFile: Hashable, Sendable {
    /// Absolute path.
    public let path: String
}

/// Streams a download into a new scratch file. Not copyable: one owner writes, then either
/// ``finish()`` (fsync + close) or ``discard()``. Dropped unfinished, it closes and removes its file,
/// so an error while downloading leaves nothing behind.
///
/// The synchronous `write` methods are blocking `write(2)` calls, for callers already off the
/// cooperative thread pool; ``write(offPool:)`` runs the call on ``BlockingWork``'s threads.
public struct ScratchWriter: ~Copyable {
    public let file: ScratchFile
    private var fd: Int32
    private let operations: FileOperations
    /// Bytes written so far.
    public private(set) var byteCount: Int64 = 0

    init(file: ScratchFile, operations: FileOperations) throws {
        self.file = file
        self.operations = operations
        self.fd = try operations.createExclusive(file.path)
    }

    deinit {
        if fd >= 0 {
            close(fd)
            unlink(file.path)
        }
    }

    public mutating func write(_ bytes: UnsafeRawBufferPointer) throws {
        try operations.write(bytes, to: fd, path: file.path)
        byteCount += Int64(bytes.count)
    }

    public mutating func write(_ buffer: ByteBuffer) throws {
        try buffer.withUnsafeReadableBytes { try write($0) }
    }

    public mutating func write(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try write($0) }
    }

    /// Writes `buffer` on a thread for blocking work, off the cooperative pool. Callers batch small
    /// pieces first: each call is one hop to that thread.
    public mutating func write(offPool buffer: ByteBuffer) async throws {
        let (fd, operations, path) = (self.fd, self.operations, file.path)
        try await BlockingWork.run {
            try buffer.withUnsafeReadableBytes { try operations.write($0, to: fd, path: path) }
        }
        byteCount += Int64(buffer.readableBytes)
    }

    /// fsyncs and closes the file. On failure the file is removed.
    public consuming func finish() throws -> ScratchFile {
        try handOver().finish()
    }

    /// Gives up the open file for ``ScratchHandOver/finish()`` to be called elsewhere, on a thread
    /// for blocking calls (a non-copyable writer cannot be captured by a closure).
    public consuming func handOver() -> ScratchHandOver {
        let handOver = ScratchHandOver(file: file, fd: fd, operations: operations)
        fd = -1
        return handOver
    }

    /// Closes and removes the file.
    public consuming func discard() {
        if fd >= 0 {
            close(fd)
            unlink(file.path)
        }
        fd = -1
    }
}

/// A complete download whose file is still open: ``finish()`` fsyncs and closes it.
public struct ScratchHandOver: Sendable {
    public let file: ScratchFile
    let fd: Int32
    let operations: FileOperations

    /// fsyncs and closes the file. On failure the file is removed.
    public func finish() throws -> ScratchFile {
        do {
            try operations.closeOnce(fd, path: file.path) { try operations.sync(fd, path: file.path) }
        } catch {
            unlink(file.path)
            throw error
        }
        return file
    }
}
