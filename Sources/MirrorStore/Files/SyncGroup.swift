import CFileSystem
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// How the store makes its writes durable.
public enum StoreDurability: String, Sendable, CaseIterable {
    /// `fsync(2)` of each file before it is renamed into place, and of each folder after the rename.
    case eachFile = "file"
    /// The same points in the same order, but every caller that reaches one joins a shared
    /// `syncfs(2)` of the store's file systems (group commit): concurrent changes share one flush
    /// instead of paying one `fsync` per file and per folder.
    case grouped = "grouped"
}

/// Group commit for the store's durability points (``StoreDurability/grouped``).
///
/// ``sync()`` returns once a `syncfs(2)` that *started after the call* has finished on every file
/// system of the store (its root and its scratch folder): everything the caller wrote before the
/// call is then durable, exactly as after an `fsync` of each file and folder it touched. The first
/// caller to arrive while no round runs leads one at once; callers that arrive during a round wait
/// for it to end and are covered together by the next, which one of them leads. Nothing waits on a
/// timer, so a lone change pays one flush, as with `fsync`, and eight concurrent changes share one.
///
/// A failed round (a writeback error anywhere on the file system, reported by `syncfs`) fails every
/// caller it covered. Blocking: call it off the cooperative pool, as every store write is.
final class SyncGroup: @unchecked Sendable {
    private let condition = NSCondition()
    /// Rounds started and finished (guarded by `condition`).
    private var started: UInt64 = 0
    private var finished: UInt64 = 0
    private var running = false
    /// Failures of recent rounds, by round.
    private var failures: [UInt64: StoreError] = [:]
    /// One open folder per file system of the store.
    private let descriptors: [(fd: Int32, path: String)]
    private let performSync: @Sendable (Int32) -> Int32

    /// Rounds run and callers served, for tests and logs.
    var statistics: (rounds: UInt64, callers: UInt64) {
        condition.lock()
        defer { condition.unlock() }
        return (finished, callers)
    }
    private var callers: UInt64 = 0

    /// - Parameter folders: folders of the store (its root, its scratch folder); one descriptor is
    ///   kept per distinct file system among them.
    init(folders: [String], performSync: @escaping @Sendable (Int32) -> Int32 = SyncGroup.syncFileSystem) throws {
        var descriptors: [(fd: Int32, path: String)] = []
        var devices: Set<UInt64> = []
        for folder in folders {
            let fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
            guard fd >= 0 else {
                let code = errno
                for (open, _) in descriptors { close(open) }
                throw StoreError.system("open directory", path: folder, errno: code)
            }
            var status = stat()
            if fstat(fd, &status) == 0, !devices.insert(UInt64(status.st_dev)).inserted {
                close(fd)
                continue
            }
            descriptors.append((fd, folder))
        }
        self.descriptors = descriptors
        self.performSync = performSync
    }

    deinit {
        for (fd, _) in descriptors { close(fd) }
    }

    /// Blocks until a round that started after this call has finished.
    ///
    /// - Throws: ``StoreError`` (`io_error`) when that round failed.
    func sync() throws {
        condition.lock()
        callers += 1
        // The first round to start after now is the one that covers this caller's writes.
        let needed = started + 1
        while finished < needed {
            if running {
                condition.wait()
                continue
            }
            running = true
            started += 1
            let round = started
            condition.unlock()
            let failure = runRound()
            condition.lock()
            running = false
            finished = round
            if let failure { failures[round] = failure }
            if round > 256 { failures[round - 256] = nil }
            condition.broadcast()
        }
        let failure = failures[needed]
        condition.unlock()
        if let failure { throw failure }
    }

    private func runRound() -> StoreError? {
        for (fd, path) in descriptors where performSync(fd) != 0 {
            return StoreError.system("syncfs", path: path, errno: errno)
        }
        return nil
    }

    /// `syncfs(2)` where there is one; elsewhere an `fsync` of the folder after a `sync(2)`.
    static let syncFileSystem: @Sendable (Int32) -> Int32 = { npm_mirror_syncfs($0) }
}
