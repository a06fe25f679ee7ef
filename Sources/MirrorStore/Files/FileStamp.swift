#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

// File metadata for readers of the store (`npm-mirror serve` validates what it derived by these).

/// What identifies a file's or folder's current state: device, inode, size and modification time
/// (the one stat type of the store: served documents and verified tarballs are checked by it).
public struct FileStamp: Sendable, Hashable {
    public var device: UInt64
    public var inode: UInt64
    public var size: Int64
    public var modifiedNanoseconds: Int64

    /// The stamp of `path` (not following a last symbolic link), or nil when it does not exist.
    public init?(_ path: String) {
        var result = stat()
        guard lstat(path, &result) == 0 else { return nil }
        device = UInt64(result.st_dev)
        inode = UInt64(result.st_ino)
        size = Int64(result.st_size)
        #if canImport(Darwin)
        modifiedNanoseconds = Int64(result.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(result.st_mtimespec.tv_nsec)
        #else
        modifiedNanoseconds = Int64(result.st_mtim.tv_sec) * 1_000_000_000 + Int64(result.st_mtim.tv_nsec)
        #endif
    }

    /// Whether the modification time is more than `age` in the past.
    public func isOlder(than age: Duration) -> Bool {
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let nowNanoseconds = Int64(now.tv_sec) * 1_000_000_000 + Int64(now.tv_nsec)
        return nowNanoseconds - modifiedNanoseconds > Int64(age / .nanoseconds(1))
    }
}

/// Size and modification time of a file.
public struct FileStatus: Sendable {
    public var size: Int
    /// Seconds since 1970.
    public var modified: Int
}

/// Size and modification time of the regular file at `path` (following links), or nil.
public func fileStatus(_ path: String) -> FileStatus? {
    var result = stat()
    guard stat(path, &result) == 0, (result.st_mode & S_IFMT) == S_IFREG else { return nil }
    #if canImport(Darwin)
    let seconds = Int(result.st_mtimespec.tv_sec)
    #else
    let seconds = Int(result.st_mtim.tv_sec)
    #endif
    return FileStatus(size: Int(result.st_size), modified: seconds)
}
