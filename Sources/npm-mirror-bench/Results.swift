/// The figures of one run, as `--json` writes them. Seconds are wall-clock; bytes are bytes.
struct BenchResults: Codable, Sendable {
    var machine: MachineInfo
    var seed: UInt64
    var concurrency: Int
    /// Added to every answer of the CouchDB double (`--database-latency-ms`).
    var databaseLatencyMilliseconds: Int
    var variants: [VariantResults]
    /// The `serve` stage, when it ran.
    var serve: ServeFigures?
    /// The `backfill` stage, when it ran.
    var backfill: BackfillFigures?
    /// The `scale` stage, when it ran.
    var scale: ScaleFigures?
    var targets: [TargetCheck]
}

struct MachineInfo: Codable, Sendable {
    var cpu: String
    var cores: Int
    var memoryBytes: UInt64
    var kernel: String
    var build: String
}

struct VariantResults: Codable, Sendable {
    var workload: Workload
    /// Feed-only run: the headline producer figure.
    var producer: ProducerFigures
    /// The producer filling the topic of the end-to-end workload.
    var producerEndToEnd: ProducerFigures
    var consumer: ConsumerFigures
    var metadataOnly: ConsumerFigures
    var curl: CurlFigures
    /// curl's time ÷ the consumer's working time: the consumer's throughput as a share of the
    /// raw-download limit (1.0: as fast as curl).
    var consumerVsCurl: Double
    /// curl fetching only the packument URLs: the limit of the metadata-only run.
    var curlPackuments: CurlFigures
    /// curl's packument time ÷ the metadata-only run's working time.
    var metadataOnlyVsCurl: Double
    /// Paths the consumer asked the registry for that the discovered URL set lacks, and the
    /// other way round: both 0 when curl fetched exactly what the consumer fetched.
    var urlSetDifference: Int
    /// Deleted packages: the consumer's packument request gets a 404, curl's set leaves them out.
    var deletedPackages: Int
    var memoryPair: MemoryPair?
    /// `npm-mirror verify`'s store verification over the full run's store.
    var verify: VerifyFigures?
    /// The consumer's CPU per package and per MB beside the floor of that work.
    var cost: CostFigures?
    /// `npm-mirror export --format parquet` over the full run's store and records.
    var export: ExportFigures?
}

/// What the consumer spends per unit of work, beside the floor of that work (``Floors``).
struct CostFigures: Codable, Sendable {
    var tarballFloor: TarballFloor
    var metadataFloor: MetadataFloor
    /// The metadata-only run's CPU seconds ÷ its changes, in ms.
    var metadataCPUMillisecondsPerPackage: Double
    /// The metadata floor's CPU seconds ÷ the same changes, in ms.
    var metadataFloorMillisecondsPerPackage: Double
    /// `metadataCPUMillisecondsPerPackage` ÷ `metadataFloorMillisecondsPerPackage`.
    var metadataMultiple: Double
    /// (Full run's CPU − metadata-only run's CPU) ÷ MB of tarballs downloaded, in ms: the tarball
    /// path with its per-file costs.
    var tarballCPUMillisecondsPerMB: Double
    /// The tarball floor's CPU seconds ÷ MB of the stored tarballs, in ms.
    var tarballFloorMillisecondsPerMB: Double
    /// `tarballCPUMillisecondsPerMB` ÷ `tarballFloorMillisecondsPerMB`.
    var tarballMultiple: Double

    init(consumer: ConsumerFigures, metadataOnly: ConsumerFigures, tarballFloor: TarballFloor, metadataFloor: MetadataFloor) {
        self.tarballFloor = tarballFloor
        self.metadataFloor = metadataFloor
        let packages = Double(max(metadataOnly.changes, 1))
        metadataCPUMillisecondsPerPackage = metadataOnly.cpuSeconds / packages * 1000
        metadataFloorMillisecondsPerPackage = (metadataFloor.gzipCPUSeconds + metadataFloor.writeCPUSeconds) / packages * 1000
        metadataMultiple = metadataFloorMillisecondsPerPackage > 0 ? metadataCPUMillisecondsPerPackage / metadataFloorMillisecondsPerPackage : 0
        let megabytes = Double(consumer.tarballBytes) / 1e6
        tarballCPUMillisecondsPerMB = megabytes > 0 ? (consumer.cpuSeconds - metadataOnly.cpuSeconds) / megabytes * 1000 : 0
        tarballFloorMillisecondsPerMB = tarballFloor.cpuSecondsPerMB * 1000
        tarballMultiple = tarballFloorMillisecondsPerMB > 0 ? tarballCPUMillisecondsPerMB / tarballFloorMillisecondsPerMB : 0
    }
}

/// Digest + gunzip + tar walk of the tarballs a consumer stored, on one thread.
struct TarballFloor: Codable, Sendable {
    var tarballs: Int
    var bytes: Int64
    /// Tarballs whose only usable digest is `dist.shasum` (SHA-1); the others are SHA-512.
    var sha1Tarballs: Int
    var digestCPUSeconds: Double
    /// libarchive: gunzip and the walk of every header and data block.
    var archiveCPUSeconds: Double
    var cpuSecondsPerMB: Double
}

/// gzip at the consumer's level + write + `fsync` of the packuments a consumer stored, on one thread.
struct MetadataFloor: Codable, Sendable {
    var packuments: Int
    /// Uncompressed bytes.
    var bytes: Int64
    var gzipCPUSeconds: Double
    /// Creating, writing and `fsync`ing one file per packument.
    var writeCPUSeconds: Double
    var cpuSecondsPerPackage: Double
}

/// `StoreVerification` (what `npm-mirror verify` runs) over the store the full consumer run left,
/// beside the floor of its main work: SHA-512 on one core of this machine, times the cores.
struct VerifyFigures: Codable, Sendable {
    var holds: Bool
    var failures: Int
    var packages: Int
    var tarballs: Int
    var bytesHashed: Int64
    var wallSeconds: Double
    /// Bytes hashed ÷ wall time, in MB/s (10⁶ bytes).
    var mbPerSecond: Double
    /// SHA-512 of a 64 MiB buffer on one thread, in MB/s.
    var sha512SingleCoreMBPerSecond: Double
    var cores: Int
    /// `mbPerSecond` ÷ (`sha512SingleCoreMBPerSecond` × `cores`).
    var shareOfFloor: Double
}

struct ProducerFigures: Codable, Sendable {
    var changes: Int
    var wallSeconds: Double
    var changesPerSecond: Double
    var peakRSSBytes: Int64
    var cpuSeconds: Double
}

struct StageFigures: Codable, Sendable {
    var stage: String
    /// Seconds summed over every lane (lanes overlap, so the sum can exceed the wall time).
    var seconds: Double
    var count: Int
    /// Share of all stage seconds.
    var share: Double
}

struct ConsumerFigures: Codable, Sendable {
    var changes: Int
    var deadLettered: Int
    var tarballs: Int
    var tarballBytes: Int64
    var packumentBytes: Int64
    /// From the first registry request to the last change done.
    var workingSeconds: Double
    /// From process start to exit (start-up, group join and the idle wait included).
    var wallSeconds: Double
    var packagesPerSecond: Double
    var tarballMBPerSecond: Double
    var peakRSSBytes: Int64
    var cpuSeconds: Double
    /// Busy CPU time of the whole machine while the consumer ran (`/proc/stat`): the consumer, the
    /// bench's simulator, broker and database double, and the kernel's threads (writeback among them).
    var machineCPUSeconds: Double
    var stages: [StageFigures]
}

struct CurlFigures: Codable, Sendable {
    var urls: Int
    var bytes: Int64
    var wallSeconds: Double
    var mbPerSecond: Double
    var peakRSSBytes: Int64
}

struct MemoryPair: Codable, Sendable {
    var hugeTarballBytes: Int
    var withoutPeakRSSBytes: Int64
    var withPeakRSSBytes: Int64
    var differenceBytes: Int64
}

struct TargetCheck: Codable, Sendable {
    var target: String
    var measured: String
    /// nil when not judged (a smoke run, or a figure this run did not measure).
    var met: Bool?
}

/// `npm-mirror export` as a process: rows written, time, CPU and peak memory.
struct ExportFigures: Codable, Sendable {
    var format: String
    var rows: Int
    var packages: Int
    var bytes: Int64
    var wallSeconds: Double
    var cpuSeconds: Double
    var peakRSSBytes: Int64
    var rowsPerSecond: Double
}
