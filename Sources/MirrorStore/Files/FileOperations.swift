import MirrorJSON
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Makes chosen system calls fail with a chosen errno, so tests can exercise error paths
/// (ENOSPC in the middle of a copy, EACCES on rename, ...) without a special file system.
struct FaultInjection: Sendable {
    enum Operation: Hashable, Sendable {
        case open, write, fsync, rename, link, mkdir
    }

    /// Returns the errno to fail with, or nil to let the call run.
    let errnoFor: @Sendable (_ operation: Operation, _ path: String) -> Int32?
}

/// Temporary file names: every file the store creates before renaming it into place starts
/// with this prefix, both in the scratch directory and inside the store root. Encoded package
/// names, tarball names and packument names never start with a dot, so the prefix is unambiguous.
let temporaryFilePrefix = ".tmp-"

/// Size of every read and copy buffer.
let ioChunkSize = 64 * 1024

/// Thin POSIX wrappers that turn errno into ``StoreError`` and keep the atomic-write recipe in one place.
struct FileOperations: Sendable {
    var faults: FaultInjection?
    /// `close(2)`, or a stand-in from a test (same contract: 0, or -1 with `errno` set).
    var closeDescriptor: @Sendable (Int32) -> Int32 = systemClose
    /// Set for ``StoreDurability/grouped``: every durability point joins a shared `syncfs` round
    /// instead of its own `fsync`.
    var syncGroup: SyncGroup?

    /// Whether a folder sync may be left to a later ``PackageStore/makeDurable()``: only under
    /// grouped durability (whose rounds cover the whole file system) and when the caller asks.
    func defersDirectorySync(_ asked: Bool) -> Bool {
        asked && syncGroup != nil
    }

    private func injected(_ operation: FaultInjection.Operation, _ path: String) -> Int32? {
        faults?.errnoFor(operation, path)
    }

    static func temporaryName(suffix: String = "") -> String {
        var generator = SystemRandomNumberGenerator()
        let a = generator.next() as UInt64
        let b = generator.next() as UInt64
        return temporaryFilePrefix + Hex.encode(a) + Hex.encode(b) + suffix
    }

    // MARK: Directories

    /// `mkdir -p`.
    func makeDirectories(_ path: String) throws {
        if isDirectory(path) { return }
        let parent = parentDirectory(of: path)
        if parent != path, !parent.isEmpty { try makeDirectories(parent) }
        if let code = injected(.mkdir, path) { throw StoreError.system("mkdir", path: path, errno: code) }
        if mkdir(path, 0o755) != 0 {
            let code = errno
            if code == EEXIST, isDirectory(path) { return }
            throw StoreError.system("mkdir", path: path, errno: code)
        }
    }

    func isDirectory(_ path: String) -> Bool {
        guard let status = status(path) else { return false }
        return (status.st_mode & S_IFMT) == S_IFDIR
    }

    func exists(_ path: String) -> Bool {
        status(path) != nil
    }

    /// `lstat`, or nil when the path does not exist (or cannot be examined).
    func status(_ path: String) -> stat? {
        var result = stat()
        return lstat(path, &result) == 0 ? result : nil
    }

    /// The names in a directory (without `.` and `..`), or nil when the directory does not exist.
    func contents(ofDirectory path: String) throws -> [String]? {
        guard let directory = opendir(path) else {
            let code = errno
            if code == ENOENT || code == ENOTDIR { return nil }
            throw StoreError.system("opendir", path: path, errno: code)
        }
        defer { closedir(directory) }
        var names: [String] = []
        while true {
            errno = 0
            guard let entry = readdir(directory) else {
                if errno != 0 { throw StoreError.system("readdir", path: path, errno: errno) }
                break
            }
            let name = withUnsafePointer(to: &entry.pointee.d_name) { pointer in
                pointer.withMemoryRebound(to: CChar.self, capacity: Int(NAME_MAX) + 1) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Removes a file, or a directory with everything in it. Missing paths are fine.
    func removeTree(_ path: String) throws {
        guard let status = status(path) else { return }
        if (status.st_mode & S_IFMT) == S_IFDIR {
            for name in try contents(ofDirectory: path) ?? [] {
                try removeTree(path + "/" + name)
            }
            if rmdir(path) != 0, errno != ENOENT { throw StoreError.system("rmdir", path: path, errno: errno) }
        } else {
            try removeFile(path)
        }
    }

    /// Removes a file; a missing file is fine.
    func removeFile(_ path: String) throws {
        if unlink(path) != 0, errno != ENOENT { throw StoreError.system("unlink", path: path, errno: errno) }
    }

    /// fsync of a directory, so a rename in it is durable. File systems that do not support
    /// it (EINVAL) are tolerated.
    func syncDirectory(_ path: String) throws {
        if let syncGroup { return try syncGroup.sync() }
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.system("open directory", path: path, errno: errno) }
        defer { close(fd) }
        if fsync(fd) != 0, errno != EINVAL, errno != EROFS {
            throw StoreError.system("fsync directory", path: path, errno: errno)
        }
    }

    // MARK: Files

    /// Creates a new file that must not exist yet (O_EXCL), for writing.
    func createExclusive(_ path: String) throws -> Int32 {
        if let code = injected(.open, path) { throw StoreError.system("create", path: path, errno: code) }
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreError.system("create", path: path, errno: errno) }
        return fd
    }

    func openForReading(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.system("open", path: path, errno: errno) }
        return fd
    }

    func write(_ bytes: UnsafeRawBufferPointer, to fd: Int32, path: String) throws {
        guard var base = bytes.baseAddress else { return }
        var remaining = bytes.count
        while remaining > 0 {
            if let code = injected(.write, path) { throw StoreError.system("write", path: path, errno: code) }
            let written = systemWrite(fd, base, remaining)
            if written < 0 {
                if errno == EINTR { continue }
                throw StoreError.system("write", path: path, errno: errno)
            }
            remaining -= written
            base += written
        }
    }

    /// Runs `body` on the open descriptor `fd`, then closes `fd` exactly once whatever happened, and
    /// reports `body`'s error, else the close's. A failed close is not repeated: the descriptor is
    /// released even then (Linux; POSIX leaves it unspecified), and a second close of the same number
    /// could close a descriptor another thread has just opened.
    func closeOnce<T>(_ fd: Int32, path: String, after body: () throws -> T) throws -> T {
        let result = Result { try body() }
        let closeErrno = closeDescriptor(fd) == 0 ? nil : errno
        let value = try result.get()
        if let closeErrno { throw StoreError.system("close", path: path, errno: closeErrno) }
        return value
    }

    func sync(_ fd: Int32, path: String) throws {
        if let code = injected(.fsync, path) { throw StoreError.system("fsync", path: path, errno: code) }
        if let syncGroup { return try syncGroup.sync() }
        if fsync(fd) != 0 { throw StoreError.system("fsync", path: path, errno: errno) }
    }

    /// Reads a whole file, refusing files larger than `maxBytes`. Nil when it does not exist.
    func readFile(_ path: String, maxBytes: Int) throws -> [UInt8]? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 {
            if errno == ENOENT { return nil }
            throw StoreError.system("open", path: path, errno: errno)
        }
        defer { close(fd) }
        var result: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: ioChunkSize)
        while true {
            let count = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if count < 0 {
                if errno == EINTR { continue }
                throw StoreError.system("read", path: path, errno: errno)
            }
            if count == 0 { return result }
            result.append(contentsOf: chunk[0..<count])
            if result.count > maxBytes {
                throw StoreError.corruptStoredFile("\(path) is larger than \(maxBytes) bytes")
            }
        }
    }

    /// Copies `source` into a new file `destination` (O_EXCL) in 64 KiB chunks and fsyncs it.
    /// On failure the destination is removed.
    func copy(from source: String, toNewFile destination: String) throws {
        let input = try openForReading(source)
        defer { close(input) }
        let output = try createExclusive(destination)
        do {
            try closeOnce(output, path: destination) {
                var buffer = [UInt8](repeating: 0, count: ioChunkSize)
                while true {
                    let count = buffer.withUnsafeMutableBytes { read(input, $0.baseAddress, $0.count) }
                    if count < 0 {
                        if errno == EINTR { continue }
                        throw StoreError.system("read", path: source, errno: errno)
                    }
                    if count == 0 { break }
                    try buffer.withUnsafeBytes { try write(UnsafeRawBufferPointer(rebasing: $0[0..<count]), to: output, path: destination) }
                }
                try sync(output, path: destination)
            }
        } catch {
            try? removeFile(destination)
            throw error
        }
    }

    /// Writes `bytes` to a new temporary file in `temporaryDirectory`, fsyncs it, then moves it
    /// to `destination` with ``moveIntoPlace(from:to:syncingDirectory:)``. Nothing partial is left anywhere on failure.
    func writeAtomically(_ bytes: UnsafeRawBufferPointer, to destination: String, temporaryDirectory: String, syncingDirectory: Bool = true) throws {
        let temporary = temporaryDirectory + "/" + Self.temporaryName()
        let fd = try createExclusive(temporary)
        do {
            try closeOnce(fd, path: temporary) {
                try write(bytes, to: fd, path: temporary)
                try sync(fd, path: temporary)
            }
        } catch {
            try? removeFile(temporary)
            throw error
        }
        do {
            try moveIntoPlace(from: temporary, to: destination, syncingDirectory: syncingDirectory)
        } catch {
            try? removeFile(temporary)
            throw error
        }
    }

    /// Atomically replaces `destination` with the complete file `source`, then removes `source`.
    ///
    /// Same file system: one `rename(2)`. Another file system (EXDEV): copy into a temporary
    /// file in the destination's directory, fsync, rename over the destination. Either way the
    /// directory is fsynced afterwards (unless `syncingDirectory` is false: the caller makes the rename
    /// durable later), and readers see the old file or the new one, never a mix.
    func moveIntoPlace(from source: String, to destination: String, syncingDirectory: Bool = true) throws {
        let directory = parentDirectory(of: destination)
        if let code = injected(.rename, destination) {
            if code != EXDEV { throw StoreError.system("rename", path: destination, errno: code) }
        } else if systemRename(source, destination) == 0 {
            if syncingDirectory { try syncDirectory(directory) }
            return
        } else if errno != EXDEV {
            throw StoreError.system("rename", path: destination, errno: errno)
        }
        let temporary = directory + "/" + Self.temporaryName()
        try copy(from: source, toNewFile: temporary)
        if systemRename(temporary, destination) != 0 {
            let code = errno
            try? removeFile(temporary)
            throw StoreError.system("rename", path: destination, errno: code)
        }
        if syncingDirectory { try syncDirectory(directory) }
        try removeFile(source)
    }

    /// Hard-links `source` to `destination` through a temporary name and a rename, so an
    /// existing destination is replaced atomically. Returns false when the file system does not
    /// support hard links (the caller then copies). `syncingDirectory` as for ``moveIntoPlace(from:to:syncingDirectory:)``.
    func linkIntoPlace(from source: String, to destination: String, syncingDirectory: Bool = true) throws -> Bool {
        let directory = parentDirectory(of: destination)
        let temporary = directory + "/" + Self.temporaryName()
        let code: Int32
        if let injectedCode = injected(.link, destination) {
            code = injectedCode
        } else if link(source, temporary) == 0 {
            if systemRename(temporary, destination) != 0 {
                let renameCode = errno
                try? removeFile(temporary)
                throw StoreError.system("rename", path: destination, errno: renameCode)
            }
            if syncingDirectory { try syncDirectory(directory) }
            return true
        } else {
            code = errno
        }
        switch code {
        case EXDEV, EPERM, ENOTSUP, EOPNOTSUPP, EMLINK, ENOSYS: return false
        default: throw StoreError.system("link", path: destination, errno: code)
        }
    }

    func parentDirectory(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        if slash == path.startIndex { return "/" }
        return String(path[..<slash])
    }
}

// `write` is shadowed by the method of the same name inside `FileOperations`.
@inline(__always)
private func systemWrite(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int {
    #if canImport(Darwin)
    return Darwin.write(fd, buffer, count)
    #elseif canImport(Musl)
    return Musl.write(fd, buffer, count)
    #else
    return Glibc.write(fd, buffer, count)
    #endif
}

extension FileOperations {
    func rename(_ source: String, to destination: String) throws {
        if let code = faults?.errnoFor(.rename, destination) {
            throw StoreError.system("rename", path: destination, errno: code)
        }
        if systemRename(source, destination) != 0 { throw StoreError.system("rename", path: destination, errno: errno) }
    }
}

@Sendable
private func systemClose(_ fd: Int32) -> Int32 {
    #if canImport(Darwin)
    return Darwin.close(fd)
    #elseif canImport(Musl)
    return Musl.close(fd)
    #else
    return Glibc.close(fd)
    #endif
}

@inline(__always)
private func systemRename(_ source: String, _ destination: String) -> Int32 {
    #if canImport(Darwin)
    return Darwin.rename(source, destination)
    #elseif canImport(Musl)
    return Musl.rename(source, destination)
    #else
    return Glibc.rename(source, destination)
    #endif
}
