import CArchive
import Crypto
import Foundation
import MirrorStore
import NIOCore
import NPMRegistry

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// The floor of the consumer's work: what a run cannot avoid doing with the bytes it stored,
/// measured in the same run on the same bytes, on one thread, with the libraries the consumer uses.
///
/// - Tarballs: the digest the consumer checks (SHA-512, or SHA-1 where `dist.shasum` is all there
///   is) and libarchive's gunzip + tar walk of every header and every data block, over exactly the
///   tarballs in the full run's store. The files are read into memory first, untimed.
/// - Metadata: gzip of each packument the metadata-only run stored, at the consumer's level
///   (``PackageStore/compressPackument(_:)``), written to a new file and `fsync`'d, one file per
///   package. The packuments are read and gunzipped first, untimed.
///
/// Times are this thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`: user and kernel), the same kind of
/// time as the consumer's CPU seconds.
struct Floors: Sendable {
    /// The tarball floor over the store under `root` (a consumer's `REMOTE_PACKAGE_DIR`).
    func tarballs(storeRoot root: String, scratch: String, shardLength: Int) throws -> TarballFloor {
        let store = try PackageStore(root: root, scratch: scratch, shardLength: shardLength)
        var floor = TarballFloor(tarballs: 0, bytes: 0, sha1Tarballs: 0, digestCPUSeconds: 0, archiveCPUSeconds: 0, cpuSecondsPerMB: 0)
        for directory in try store.packageDirectories().packageDirectories {
            guard let name = store.packageName(forDirectory: directory),
                let json = try store.readPackument(name: name),
                let packument = try? Packument.parse(json, expectedName: name)
            else { continue }
            for version in try store.storedVersions(name: name) {
                guard let entry = packument.versions[version] else { continue }
                let path = root + "/" + (try store.tarballPath(name: name, version: version))
                let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
                let algorithm = (try? ExpectedDigest(integrity: entry.integrity, shasum: entry.shasum))?.algorithm ?? .sha512
                floor.tarballs += 1
                floor.bytes += Int64(bytes.count)
                if algorithm == .sha1 { floor.sha1Tarballs += 1 }
                floor.digestCPUSeconds += try ThreadCPU.measure {
                    bytes.withUnsafeBytes { buffer in
                        if algorithm == .sha1 {
                            _ = Insecure.SHA1.hash(data: buffer)
                        } else {
                            _ = SHA512.hash(data: buffer)
                        }
                    }
                }
                floor.archiveCPUSeconds += try ThreadCPU.measure { try ArchiveWalk.walk(bytes, path: path) }
            }
        }
        let total = floor.digestCPUSeconds + floor.archiveCPUSeconds
        floor.cpuSecondsPerMB = floor.bytes > 0 ? total / (Double(floor.bytes) / 1e6) : 0
        return floor
    }

    /// The metadata floor over the packuments in the store under `root`, written to files in `output`.
    func metadata(storeRoot root: String, scratch: String, shardLength: Int, output: String) throws -> MetadataFloor {
        let store = try PackageStore(root: root, scratch: scratch, shardLength: shardLength)
        try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
        var floor = MetadataFloor(packuments: 0, bytes: 0, gzipCPUSeconds: 0, writeCPUSeconds: 0, cpuSecondsPerPackage: 0)
        for (index, directory) in try store.packageDirectories().packageDirectories.enumerated() {
            guard let name = store.packageName(forDirectory: directory), let json = try store.readPackument(name: name) else { continue }
            floor.packuments += 1
            floor.bytes += Int64(json.count)
            var compressed: ByteBuffer?
            floor.gzipCPUSeconds += try ThreadCPU.measure { compressed = try PackageStore.compressPackument(json) }
            let path = "\(output)/\(index).json.gz"
            floor.writeCPUSeconds += try ThreadCPU.measure { try Self.writeSynced(compressed!, to: path) }
        }
        floor.cpuSecondsPerPackage = floor.packuments > 0 ? (floor.gzipCPUSeconds + floor.writeCPUSeconds) / Double(floor.packuments) : 0
        return floor
    }

    private static func writeSynced(_ buffer: ByteBuffer, to path: String) throws {
        let fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw BenchError("floor: cannot create \(path): errno \(errno)") }
        defer { close(fd) }
        try buffer.withUnsafeReadableBytes { bytes in
            var offset = 0
            while offset < bytes.count {
                let written = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw BenchError("floor: cannot write \(path): errno \(errno)")
                }
                offset += written
            }
        }
        guard fsync(fd) == 0 else { throw BenchError("floor: cannot fsync \(path): errno \(errno)") }
    }
}

/// libarchive reading a gzip'd tar from memory to its end: every header, every data block
/// decompressed and skipped, as the consumer's inspection does.
enum ArchiveWalk {
    static func walk(_ bytes: [UInt8], path: String) throws {
        guard let handle = archive_read_new() else { throw BenchError("floor: archive_read_new failed") }
        defer { archive_read_free(handle) }
        archive_read_support_filter_gzip(handle)
        archive_read_support_format_tar(handle)
        try bytes.withUnsafeBytes { buffer in
            guard archive_read_open_memory(handle, buffer.baseAddress, buffer.count) == ARCHIVE_OK else {
                throw BenchError("floor: libarchive cannot open \(path)")
            }
            var entry: OpaquePointer?
            while true {
                let status = archive_read_next_header(handle, &entry)
                if status == ARCHIVE_EOF { return }
                guard status == ARCHIVE_OK || status == ARCHIVE_WARN else { throw BenchError("floor: libarchive failed reading \(path)") }
                guard archive_read_data_skip(handle) == ARCHIVE_OK else { throw BenchError("floor: libarchive failed reading the data of \(path)") }
            }
        }
    }
}
