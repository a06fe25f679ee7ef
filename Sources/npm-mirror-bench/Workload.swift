/// What one benchmark variant runs. Every byte comes from the registry simulator's generator, so
/// the same seed gives the same packages, documents and tarballs on every machine.
struct Workload: Sendable, Codable {
    /// `smoke`, `small`, `large` or `huge`.
    var name: String
    /// Packages of the end-to-end workload (consumer, metadata-only, curl).
    var packages: Int
    /// Packages of the producer's feed-only run (the feed is cheap to serve, so it can be long
    /// enough that process start-up does not dominate).
    var feedPackages: Int
    /// Size of the one huge packument in the end-to-end workload (0: none).
    var hugePackumentBytes: Int
    /// Size of the one huge tarball in the end-to-end workload (0: none).
    var hugeTarballBytes: Int
    /// Packages of the memory pair: the same small workload consumed once without and once with
    /// a huge tarball of `hugeTarballBytes`, so the difference in peak RSS is that tarball's.
    var memoryPairPackages: Int

    static let smoke = Workload(name: "smoke", packages: 60, feedPackages: 3_000, hugePackumentBytes: 1 << 20, hugeTarballBytes: 8 << 20, memoryPairPackages: 20)
    static let small = Workload(name: "small", packages: 400, feedPackages: 50_000, hugePackumentBytes: 0, hugeTarballBytes: 0, memoryPairPackages: 0)
    static let large = Workload(name: "large", packages: 3_000, feedPackages: 300_000, hugePackumentBytes: 20 << 20, hugeTarballBytes: 200 << 20, memoryPairPackages: 200)

    /// One packument the size of the largest real one (@primer/react, about 95 MB) among a few packages: peak memory.
    static let huge = Workload(name: "huge", packages: 100, feedPackages: 1_000, hugePackumentBytes: 95_000_000, hugeTarballBytes: 0, memoryPairPackages: 0)

    static let all = [smoke, small, large, huge]
}
