import Synchronization

/// How far a ``StoreVerification`` run is, read while it runs (for a progress line).
public final class VerificationProgress: Sendable {
    private let packagesTotal = Atomic<Int>(0)
    private let packagesDone = Atomic<Int>(0)
    private let tarballs = Atomic<Int>(0)
    private let bytes = Atomic<Int64>(0)

    public init() {}

    public struct Snapshot: Sendable, Hashable {
        /// Package folders found (0 until the store has been listed).
        public var packagesTotal: Int
        public var packagesDone: Int
        public var tarballs: Int
        public var bytesHashed: Int64
    }

    public var snapshot: Snapshot {
        Snapshot(
            packagesTotal: packagesTotal.load(ordering: .relaxed), packagesDone: packagesDone.load(ordering: .relaxed),
            tarballs: tarballs.load(ordering: .relaxed), bytesHashed: bytes.load(ordering: .relaxed))
    }

    func setTotal(_ total: Int) { packagesTotal.store(total, ordering: .relaxed) }
    func addPackage() { packagesDone.add(1, ordering: .relaxed) }
    func addTarball() { tarballs.add(1, ordering: .relaxed) }
    func addBytes(_ count: Int) { bytes.add(Int64(count), ordering: .relaxed) }
}
