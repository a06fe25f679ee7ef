import Foundation
import Synchronization
import Testing

@testable import MirrorStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A `close(2)` that releases the descriptor and then fails with EIO, as a close on NFS can. At the
/// same moment another file takes the released number (`dup2` closes the old file and reuses its
/// number in one step), as another thread's `open` could. A second close of that number by the code
/// under test would close this other file.
private final class FailingClose: Sendable {
    private let numbers = Mutex<[Int32]>([])

    /// The numbers close was asked for, in order.
    var closed: [Int32] { numbers.withLock { $0 } }

    func close(_ fd: Int32) -> Int32 {
        let other = open("/dev/null", O_RDONLY | O_CLOEXEC)
        precondition(other >= 0, "could not open /dev/null")
        precondition(dup2(other, fd) == fd, "dup2 onto \(fd) failed")
        _ = closeSystem(other)
        numbers.withLock { $0.append(fd) }
        errno = EIO
        return -1
    }

    /// Whether `fd` still holds the file put on it (not closed, nor replaced by another thread's
    /// file after a close); closes it then.
    func stillOpen(_ fd: Int32) -> Bool {
        var held = stat()
        var null = stat()
        guard fstat(fd, &held) == 0, stat("/dev/null", &null) == 0, held.st_dev == null.st_dev, held.st_ino == null.st_ino else {
            return false
        }
        _ = closeSystem(fd)
        return true
    }
}

private func closeSystem(_ fd: Int32) -> Int32 {
    #if canImport(Darwin)
    return Darwin.close(fd)
    #elseif canImport(Musl)
    return Musl.close(fd)
    #else
    return Glibc.close(fd)
    #endif
}

@Suite("A failed close(2) is not repeated", .serialized)
struct CloseFailureTests {
    private func operations(_ failing: FailingClose) -> FileOperations {
        var operations = FileOperations()
        operations.closeDescriptor = { failing.close($0) }
        return operations
    }

    /// The close was asked for once, and the file that took its number afterwards is still open.
    private func expectClosedOnce(_ failing: FailingClose, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let closed = failing.closed
        try #require(closed.count == 1, "close was called \(closed.count) times: \(closed)", sourceLocation: sourceLocation)
        #expect(failing.stillOpen(closed[0]), "a second close closed the descriptor that reused number \(closed[0])", sourceLocation: sourceLocation)
    }

    @Test("writeAtomically: the close error is reported, the temporary file removed, the descriptor closed once")
    func writeAtomically() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let failing = FailingClose()
        let error = try #require(throws: StoreError.self) {
            try [UInt8]("{}".utf8).withUnsafeBytes {
                try operations(failing).writeAtomically($0, to: directory.path + "/file.json", temporaryDirectory: directory.path)
            }
        }
        #expect(error.description.contains("close"))
        #expect(listTree(directory.path).isEmpty)
        try expectClosedOnce(failing)
    }

    @Test("copy: the close error is reported, the destination removed, the descriptor closed once")
    func copy() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let source = directory.path + "/source"
        try Data(repeating: 7, count: 100_000).write(to: URL(fileURLWithPath: source))
        let failing = FailingClose()
        let error = try #require(throws: StoreError.self) {
            try operations(failing).copy(from: source, toNewFile: directory.path + "/destination")
        }
        #expect(error.description.contains("close"))
        #expect(listTree(directory.path) == ["source"])
        try expectClosedOnce(failing)
    }

    @Test("ScratchHandOver.finish: the close error is reported, the scratch file removed, the descriptor closed once")
    func finishScratch() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let failing = FailingClose()
        var writer = try ScratchWriter(file: ScratchFile(path: directory.path + "/download"), operations: operations(failing))
        try writer.write([1, 2, 3])
        let handOver = writer.handOver()
        let error = try #require(throws: StoreError.self) { try handOver.finish() }
        #expect(error.description.contains("close"))
        #expect(listTree(directory.path).isEmpty)
        try expectClosedOnce(failing)
    }
}
