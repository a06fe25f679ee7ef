import Dispatch

/// Runs blocking calls — librdkafka's flush, polls with a timeout, synchronous commits and metadata
/// requests; the store's writes with fsync, renames and whole-tarball checks; checkpoint files — on
/// Dispatch threads of their own, off Swift's cooperative pool.
///
/// The cooperative pool has one thread per core: a task blocked in `fsync` or in a metadata request
/// there stops every other task of the process (the HTTP clients' continuations, the record writes).
/// Here a blocked call holds only its own thread.
public enum BlockingWork {
    private static let queue = DispatchQueue(label: "npm-mirror.blocking", attributes: .concurrent)

    public static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async {
                continuation.resume(with: Result { try body() })
            }
        }
    }

    public static func run<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
        await withCheckedContinuation { continuation in
            queue.async {
                continuation.resume(returning: body())
            }
        }
    }
}
