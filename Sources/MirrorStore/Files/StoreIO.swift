import MirrorBlocking

/// Runs the store's blocking work (writes with fsync, renames, archive checks that read a whole
/// tarball) on ``BlockingWork``'s threads, off Swift's cooperative pool.
///
/// The cooperative pool has one thread per core: a lane blocked in `fsync` there stops every
/// other task of the process, the HTTP clients' continuations and the record writes among them.
/// Here a blocked call holds only its own thread; at most one call per consumer lane runs at once.
public enum StoreIO {
    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await BlockingWork.run(body)
    }
}
