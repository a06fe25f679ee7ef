import Foundation

/// How many tarballs a store holds and their size, counted by walking its folders, and how much room
/// is left on the file system under it.
///
/// A full mirror holds millions of tarballs: walking them all takes minutes, so a caller that must
/// answer quickly (`npm-mirror status`) gives the walk a time budget and says so when it ran out —
/// the figures are then a lower bound, never passed off as the whole.
public struct StoreCensus: Sendable, Equatable {
    /// `.tgz` files counted.
    public var tarballs = 0
    /// Their total size in bytes.
    public var bytes: Int64 = 0
    /// Whether every file under the root was visited (false: the budget ran out first).
    public var complete = true

    public init(tarballs: Int = 0, bytes: Int64 = 0, complete: Bool = true) {
        self.tarballs = tarballs
        self.bytes = bytes
        self.complete = complete
    }

    /// Walks `root`, counting `.tgz` files, until it has walked everything or `budget` has passed.
    /// The walk holds one folder's listing at a time, whatever the store's size. A missing root counts
    /// as an empty store.
    public static func count(under root: String, budget: Duration? = nil) -> StoreCensus {
        let clock = ContinuousClock()
        let deadline = budget.map { clock.now + $0 }
        var census = StoreCensus()
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { return census }
        var visited = 0
        while let path = enumerator.nextObject() as? String {
            visited += 1
            // The clock is read every 256 entries: cheap beside the stat of each file.
            if let deadline, visited % 256 == 0, clock.now >= deadline {
                census.complete = false
                break
            }
            guard path.hasSuffix(".tgz") else { continue }
            census.tarballs += 1
            let attributes = try? FileManager.default.attributesOfItem(atPath: root + "/" + path)
            census.bytes += (attributes?[.size] as? NSNumber)?.int64Value ?? 0
        }
        return census
    }
}

/// The size and free room of the file system a path is on.
public struct FileSystemSpace: Sendable, Equatable {
    /// Total size in bytes.
    public var size: Int64
    /// Bytes free for this process to use.
    public var free: Int64

    public init(size: Int64, free: Int64) {
        self.size = size
        self.free = free
    }

    /// The space of the file system holding `path` (or, when `path` does not exist yet, its nearest
    /// existing parent); nil when none can be asked.
    public static func of(_ path: String) -> FileSystemSpace? {
        var candidate = URL(fileURLWithPath: path).standardizedFileURL
        while !FileManager.default.fileExists(atPath: candidate.path) {
            let parent = candidate.deletingLastPathComponent()
            guard parent.path != candidate.path else { return nil }
            candidate = parent
        }
        guard let attributes = try? FileManager.default.attributesOfFileSystem(forPath: candidate.path),
            let size = (attributes[.systemSize] as? NSNumber)?.int64Value,
            let free = (attributes[.systemFreeSize] as? NSNumber)?.int64Value
        else { return nil }
        return FileSystemSpace(size: size, free: free)
    }

    /// The share of the file system in use, 0...1.
    public var usedFraction: Double { size > 0 ? Double(size - free) / Double(size) : 0 }
}
