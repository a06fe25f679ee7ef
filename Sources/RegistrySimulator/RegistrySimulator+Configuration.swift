extension RegistrySimulator {
    /// How to start a simulator. Every property has a default; `validate()` checks them.
    public struct Configuration: Sendable {
        /// Interface both services bind to. Default: `127.0.0.1`.
        public var host: String = "127.0.0.1"
        /// Port of the registry service (packuments, tarballs); 0 picks a free one. Default: 0.
        public var registryPort: Int = 0
        /// Port of the replicate service (`/`, `/registry/_changes`); 0 picks a free one. Default: 0.
        public var replicatePort: Int = 0

        /// Packages to generate (ignored with `directory`). Default: 1000.
        public var packages: Int = 1000
        /// Seed of everything generated: names, documents, tarball bytes, seq gaps,
        /// live changes. Same seed, same bytes. Default: 1.
        public var seed: UInt64 = 1
        /// Serve this directory instead of generating (see `DirectoryRegistry` for the
        /// layout; the README documents it too). Default: `nil`.
        public var directory: String?
        /// When > 0, adds one package (`huge-packument`, 1000 versions) whose full
        /// document is about this many bytes. Default: 0 (none).
        public var hugePackumentBytes: Int = 0
        /// When > 0, adds one package (`huge-tarball`) whose only tarball is about this
        /// many bytes of incompressible data (built on first use, then kept in memory).
        /// Default: 0 (none).
        public var hugeTarballBytes: Int = 0

        /// Random live changes per second (new versions, new packages, dist-tag moves,
        /// deletions, unpublishes). Default: 0 (none).
        public var publishRate: Double = 0
        /// How long the registry keeps serving a package's previous revision after its
        /// change appears in `_changes`. Default: `.zero`.
        public var replicaLag: Duration = .zero

        /// Fault rules active from the start. Default: none.
        public var faults: [FaultRule] = []
        /// Seed of the fault draws. Default: `nil` (use `seed`).
        public var faultSeed: UInt64?
        /// Start with the feed stalled: `update_seq` advances, `_changes` returns nothing new.
        /// Default: `false`.
        public var stallFeed: Bool = false

        /// Tarball bytes kept in memory (digests are always kept). Default: 1 GiB.
        public var tarballCacheBytes: Int = 1 << 30
        /// Rendered packument bytes kept in memory. Default: 256 MiB.
        public var packumentCacheBytes: Int = 256 << 20
        /// Requests kept for `GET /-/admin/log`. Default: 10 000.
        public var requestLogCapacity: Int = 10_000
        /// Base URL written into `dist.tarball` instead of the registry service's own
        /// (e.g. behind a proxy), without a trailing slash. Default: `nil`.
        public var publicRegistryURL: String?

        public init() {}

        /// Throws `RegistrySimulatorError.invalidConfiguration` naming the first bad value.
        public func validate() throws {
            func check(_ condition: Bool, _ message: String) throws {
                if !condition { throw RegistrySimulatorError.invalidConfiguration(message) }
            }
            try check((0...65_535).contains(self.registryPort), "registryPort must be 0...65535, got \(self.registryPort)")
            try check((0...65_535).contains(self.replicatePort), "replicatePort must be 0...65535, got \(self.replicatePort)")
            try check(self.packages >= 0, "packages must not be negative, got \(self.packages)")
            try check(self.hugePackumentBytes >= 0, "hugePackumentBytes must not be negative")
            try check(self.hugeTarballBytes >= 0 && self.hugeTarballBytes < 4 << 30, "hugeTarballBytes must be 0..<4 GiB")
            try check(self.publishRate >= 0 && self.publishRate.isFinite, "publishRate must be a finite number >= 0")
            try check(self.replicaLag >= .zero, "replicaLag must not be negative")
            try check(self.tarballCacheBytes >= 0 && self.packumentCacheBytes >= 0, "cache sizes must not be negative")
            try check(self.requestLogCapacity > 0, "requestLogCapacity must be positive")
            try check(!self.host.isEmpty, "host must not be empty")
            for rule in self.faults { try rule.validate() }
        }
    }
}
