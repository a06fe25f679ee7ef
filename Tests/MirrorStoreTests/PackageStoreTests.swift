import Crypto
import Foundation
import MirrorHarness
import Testing

@testable import MirrorStore

/// Verifies and commits the real foobar tarball `version` through the scratch directory.
@discardableResult
private func commitFoobar(_ version: String, into store: PackageStore) throws -> String {
    let file = try scratchFile(in: store, bytes: try Fixtures.bytes("foobar-\(version).tgz"))
    let dist = try Fixtures.foobarDist(version)
    let verified = try TarballVerifier().verify(file, integrity: dist.integrity, shasum: dist.shasum, name: "foobar", version: version)
    return try store.commitTarball(verified)
}

/// A synthetic tarball for `name@version`, verified in `store`'s scratch directory.
private func verifiedTarball(name: String, version: String, in store: PackageStore, padding: Int = 0) throws -> VerifiedTarball {
    var tar = TarBuilder()
    tar.addPackageJSON(name: name, version: version)
    if padding > 0 {
        var generator = SystemRandomNumberGenerator()
        tar.add("package/blob.bin", contents: (0..<padding).map { _ in UInt8.random(in: 0...255, using: &generator) })
    }
    let bytes = try gzip(tar.finished())
    var digest = try DigestVerifier(integrity: sha512Integrity(bytes), shasum: nil)
    var writer = try store.makeScratchWriter()
    for chunk in stride(from: 0, to: bytes.count, by: 4096) {
        let slice = Array(bytes[chunk..<min(bytes.count, chunk + 4096)])
        digest.update(slice)
        try writer.write(slice)
    }
    let file = try writer.finish()
    return try TarballVerifier().verify(file, digest: try digest.finalize(), name: name, version: version)
}

private func modificationTime(_ path: String) throws -> Date {
    try #require(try FileManager.default.attributesOfItem(atPath: path)[.modificationDate] as? Date)
}

@Suite("Package store")
struct PackageStoreTests {
    @Test("layout: shard, encoded folder, gzip'd packument, revisions, original tarball bytes")
    func layout() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let store = try directory.makeStore(shardLength: 2)
        let packument = try Fixtures.bytes("packument-foobar.json")
        try store.storePackument(name: "foobar", rev: "110049-61bf33b897e6fc8ce29c16f6", json: packument)
        let path100 = try commitFoobar("1.0.0", into: store)
        try commitFoobar("1.1.0", into: store)

        let shard = String(Data(SHA256.hash(data: Array("foobar".utf8))).map { String(format: "%02x", $0) }.joined().prefix(2))
        #expect(store.packageDirectory(for: "foobar") == "\(shard)/foobar")
        #expect(path100 == "\(shard)/foobar/foobar-1.0.0.tgz")
        #expect(
            listTree(store.root) == [
                shard, "\(shard)/foobar", "\(shard)/foobar/foobar-1.0.0.tgz", "\(shard)/foobar/foobar-1.1.0.tgz",
                "\(shard)/foobar/packument.json.gz", "\(shard)/foobar/revisions",
                "\(shard)/foobar/revisions/110049-61bf33b897e6fc8ce29c16f6.json.gz",
            ]
        )
        // Tarballs are the registry's bytes, not recompressed.
        let stored = try Data(contentsOf: URL(fileURLWithPath: store.root + "/" + path100))
        #expect(Array(stored) == (try Fixtures.bytes("foobar-1.0.0.tgz")))
        // The packument is gzip'd and reads back identical.
        let gz = try Data(contentsOf: URL(fileURLWithPath: store.root + "/\(shard)/foobar/packument.json.gz"))
        #expect(gz.prefix(2) == Data([0x1F, 0x8B]))
        #expect(try store.readPackument(name: "foobar") == packument)
        #expect(try store.currentPackumentRevision(name: "foobar") == "110049-61bf33b897e6fc8ce29c16f6")
        #expect(try store.storedVersions(name: "foobar") == ["1.0.0", "1.1.0"])
        #expect(store.hasTarball(name: "foobar", version: "1.0.0"))
        #expect(!store.hasTarball(name: "foobar", version: "2.0.0"))
        #expect(listTree(store.scratch).isEmpty)
    }

    @Test("scoped names, awkward versions, long names")
    func names() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let store = try directory.makeStore(shardLength: 0)
        let cases: [(String, String)] = [
            ("@scope/pkg", "1.0.0-RC.1+build.5"), ("@scope/pkg", "1.0.0-rc.1+build.5"),
            ("Legacy", "0.0.1"), (String(repeating: "x", count: 214), "1.0.0"),
            ("@" + String(repeating: "s", count: 100) + "/" + String(repeating: "N", count: 100), "2.0.0"),
        ]
        for (name, version) in cases {
            try store.commitTarball(try verifiedTarball(name: name, version: version, in: store))
            #expect(store.hasTarball(name: name, version: version))
            #expect(store.packageName(forDirectory: store.packageDirectory(for: name)) == name)
        }
        #expect(try store.storedVersions(name: "@scope/pkg") == ["1.0.0-RC.1+build.5", "1.0.0-rc.1+build.5"])
        #expect(try store.tarballFileName(name: "@scope/pkg", version: "1.0.0") == "pkg-1.0.0.tgz")
        #expect(try store.tarballPath(name: "@scope/pkg", version: "1.0.0") == "%40scope%2Fpkg/pkg-1.0.0.tgz")
        #expect(try store.storedVersions(name: cases[4].0) == ["2.0.0"])
        #expect(throws: StoreError.self) { try store.tarballFileName(name: "", version: "1.0.0") }
        #expect(throws: StoreError.self) { try store.tarballFileName(name: "a", version: "") }
        #expect(throws: StoreError.self) { try PackageStore(root: directory.path, scratch: directory.path) }
        #expect(throws: StoreError.self) { try PackageStore(root: directory.path + "/r", scratch: directory.path + "/s", shardLength: 65) }
    }

    @Test("storing the same revision again writes nothing")
    func idempotentPackument() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let store = try directory.makeStore()
        let json = try Fixtures.bytes("packument-foobar.json")
        #expect(try store.storePackument(name: "foobar", rev: "1-a", json: json).wasWritten)
        let current = store.absolutePackageDirectory(for: "foobar") + "/packument.json.gz"
        let before = try FileManager.default.attributesOfItem(atPath: current)[.systemFileNumber] as? Int
        #expect(try !store.storePackument(name: "foobar", rev: "1-a", json: json).wasWritten)
        #expect(try FileManager.default.attributesOfItem(atPath: current)[.systemFileNumber] as? Int == before)
    }

    @Test("previous revisions rotate: newest N kept")
    func rotation() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let store = try directory.makeStore(revisionsKept: 2)
        var removed: [String] = []
        for generation in 1...5 {
            removed += try store.storePackument(name: "foobar", rev: "\(generation)-x", json: Array("{\"g\":\(generation)}".utf8))
                .removedRevisions
        }
        #expect(try store.currentPackumentRevision(name: "foobar") == "5-x")
        #expect(try store.previousPackumentRevisions(name: "foobar") == ["4-x", "3-x"])
        #expect(removed == ["1-x", "2-x"])
        #expect(try store.readPackument(name: "foobar") == Array("{\"g\":5}".utf8))
        #expect(try store.readPackument(name: "foobar", revision: "3-x") == Array("{\"g\":3}".utf8))
        #expect(try store.readPackument(name: "foobar", revision: "1-x") == nil)

        let none = try directory.makeStore(revisionsKept: 0)
        try none.storePackument(name: "other", rev: "1-a", json: Array("{}".utf8))
        try none.storePackument(name: "other", rev: "2-b", json: Array("{}".utf8))
        #expect(try none.previousPackumentRevisions(name: "other").isEmpty)
    }

    @Test("replacement is atomic: a reader of the old file keeps the whole old file")
    func atomicReplacement() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let store = try directory.makeStore()
        let old = Array(String(repeating: "{\"old\":true}", count: 10_000).utf8)
        try store.storePackument(name: "foobar", rev: "1-a", json: old)
        let path = store.absolutePackageDirectory(for: "foobar") + "/packument.json.gz"
        let reader = try #require(FileHandle(forReadingAtPath: path))
        defer { try? reader.close() }

        try store.storePackument(name: "foobar", rev: "2-b", json: Array("{\"new\":true}".utf8))
        let oldBytes = Array(try reader.readToEnd() ?? Data())
        #expect(try Gzip.decompress(oldBytes, maxSize: 1 << 20) == old)
        #expect(try store.readPackument(name: "foobar") == Array("{\"new\":true}".utf8))
        #expect(try store.orphanTemporaryFiles().isEmpty)
    }

    @Test("prune removes what is not kept; removePackage removes everything")
    func pruneAndRemove() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let store = try directory.makeStore()
        try store.storePackument(name: "foobar", rev: "1-a", json: try Fixtures.bytes("packument-foobar.json"))
        try commitFoobar("1.0.0", into: store)
        try commitFoobar("1.1.0", into: store)
        #expect(try store.prune(name: "foobar", keep: ["1.1.0"]) == ["1.0.0"])
        #expect(try store.storedVersions(name: "foobar") == ["1.1.0"])
        #expect(try store.prune(name: "foobar", keep: ["1.1.0"]).isEmpty)

        #expect(try store.removePackage(name: "foobar"))
        #expect(!FileManager.default.fileExists(atPath: store.absolutePackageDirectory(for: "foobar")))
        #expect(try !store.removePackage(name: "foobar"))
        #expect(try store.storedVersions(name: "foobar").isEmpty)
        #expect(try store.orphanTemporaryFiles().isEmpty)
    }

    @Test("a scratch file changed after verification is not committed")
    func staleVerification() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let store = try directory.makeStore()
        let verified = try verifiedTarball(name: "demo", version: "1.0.0", in: store)
        let handle = try #require(FileHandle(forWritingAtPath: verified.file.path))
        try handle.seekToEnd()
        try handle.write(contentsOf: Data([0]))
        try handle.close()
        let error = try #require(throws: StoreError.self) { try store.commitTarball(verified) }
        #expect(error.code == .staleVerification)
        #expect(listTree(store.root).isEmpty)
    }

    @Test("start-up cleanup removes what a crash left behind")
    func crashLeftovers() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let store = try directory.makeStore()
        try commitFoobar("1.0.0", into: store)
        let package = store.absolutePackageDirectory(for: "foobar")
        let shard = (package as NSString).deletingLastPathComponent

        // A download interrupted mid-way, an unrelated file, a copy interrupted in the store,
        // a revision write interrupted, a package removal interrupted.
        #expect(FileManager.default.createFile(atPath: store.scratch + "/.tmp-0123.download", contents: Data(repeating: 1, count: 100)))
        #expect(FileManager.default.createFile(atPath: store.scratch + "/keep.txt", contents: Data()))
        #expect(FileManager.default.createFile(atPath: package + "/.tmp-abcd", contents: Data(repeating: 2, count: 100)))
        try FileManager.default.createDirectory(atPath: package + "/revisions", withIntermediateDirectories: true)
        #expect(FileManager.default.createFile(atPath: package + "/revisions/.tmp-ef", contents: Data()))
        try FileManager.default.createDirectory(atPath: shard + "/.tmp-99.removing/sub", withIntermediateDirectories: true)

        #expect(try store.storedVersions(name: "foobar") == ["1.0.0"])
        #expect(try store.cleanScratch() == [".tmp-0123.download"])
        #expect(listTree(store.scratch) == ["keep.txt"])

        let prefix = store.packageDirectory(for: "foobar")
        let shardName = (prefix as NSString).deletingLastPathComponent
        let expected = ["\(prefix)/.tmp-abcd", "\(prefix)/revisions/.tmp-ef", "\(shardName)/.tmp-99.removing"].sorted()
        #expect(try store.orphanTemporaryFiles() == expected)
        #expect(try store.removeOrphanTemporaryFiles() == expected)
        #expect(try store.orphanTemporaryFiles().isEmpty)
        #expect(try store.storedVersions(name: "foobar") == ["1.0.0"])
    }

    @Test("a dropped scratch writer removes its partial file")
    func droppedWriter() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let store = try directory.makeStore()
        do {
            var writer = try store.makeScratchWriter()
            try writer.write([1, 2, 3])
            #expect(listTree(store.scratch).count == 1)
        }
        #expect(listTree(store.scratch).isEmpty)
        var writer = try store.makeScratchWriter()
        try writer.write([1, 2, 3])
        writer.discard()
        #expect(listTree(store.scratch).isEmpty)
    }
}

@Suite("Package store: disk errors")
struct PackageStoreErrorTests {
    /// Fails `operation` with `code` for paths under `prefix`.
    private func failing(_ operation: FaultInjection.Operation, _ code: Int32, under prefix: String, alsoCrossDevice: Bool = false)
        -> FaultInjection
    {
        FaultInjection { op, path in
            if alsoCrossDevice, op == .rename, path.hasPrefix(prefix) { return EXDEV }
            return op == operation && path.hasPrefix(prefix) ? code : nil
        }
    }

    @Test("cross-device commit copies, fsyncs and renames, leaving no temporary file")
    func crossDevice() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let store = try directory.makeStore(faults: FaultInjection { op, _ in op == .rename ? EXDEV : nil })
        let verified = try verifiedTarball(name: "demo", version: "1.0.0", in: store, padding: 200_000)
        try store.commitTarball(verified)
        #expect(try store.storedVersions(name: "demo") == ["1.0.0"])
        #expect(!FileManager.default.fileExists(atPath: verified.file.path))
        #expect(try store.orphanTemporaryFiles().isEmpty)
        let stored = try Data(contentsOf: URL(fileURLWithPath: store.root + "/" + (try store.tarballPath(name: "demo", version: "1.0.0"))))
        #expect(sha512Integrity(Array(stored)) == verified.digest.integrity)
    }

    @Test("ENOSPC during the cross-device copy: diskFull, nothing partial in the store", arguments: [FaultInjection.Operation.write, .fsync])
    func diskFullDuringCopy(operation: FaultInjection.Operation) throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let root = directory.path + "/store"
        let store = try directory.makeStore(faults: failing(operation, ENOSPC, under: root, alsoCrossDevice: true))
        let verified = try verifiedTarball(name: "demo", version: "1.0.0", in: store, padding: 200_000)
        let error = try #require(throws: StoreError.self) { try store.commitTarball(verified) }
        #expect(error.code == .diskFull)
        #expect(error.isRetriable)
        #expect(!store.hasTarball(name: "demo", version: "1.0.0"))
        #expect(try store.orphanTemporaryFiles().isEmpty)
        #expect(listTree(store.absolutePackageDirectory(for: "demo")).isEmpty)
        // The verified scratch file is still there to retry with (or for cleanScratch).
        #expect(FileManager.default.fileExists(atPath: verified.file.path))
    }

    @Test("EACCES writing a packument: permissionDenied, nothing written")
    func permissionDenied() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let store = try directory.makeStore(faults: failing(.open, EACCES, under: directory.path + "/scratch"))
        let error = try #require(throws: StoreError.self) {
            try store.storePackument(name: "foobar", rev: "1-a", json: Array("{}".utf8))
        }
        #expect(error.code == .permissionDenied)
        #expect(!error.isRetriable)
        #expect(try store.readPackument(name: "foobar") == nil)
        #expect(listTree(store.scratch).isEmpty)
        #expect(try store.orphanTemporaryFiles().isEmpty)
    }

    @Test("ENOSPC while streaming into scratch: diskFull, and the writer leaves nothing")
    func diskFullInScratch() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let store = try directory.makeStore(faults: failing(.write, ENOSPC, under: directory.path + "/scratch"))
        do {
            var writer = try store.makeScratchWriter()
            let error = try #require(throws: StoreError.self) { try writer.write([1, 2, 3]) }
            #expect(error.code == .diskFull)
        }
        #expect(listTree(store.scratch).isEmpty)
    }

    @Test("real ENOSPC on a tiny tmpfs store", .enabled("needs root and mount -t tmpfs") { await Tmpfs.isAvailable() })
    func realDiskFull() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let mountPoint = directory.path + "/tiny"
        try await Tmpfs.mount(at: mountPoint, size: "64k")
        do {
            try fillTheTmpfs(mountPoint, scratch: directory.path + "/scratch")
        } catch {
            await Tmpfs.unmount(mountPoint)
            throw error
        }
        await Tmpfs.unmount(mountPoint)
    }

    private func fillTheTmpfs(_ mountPoint: String, scratch: String) throws {
        // Scratch on /tmp, store on the tmpfs: the commit crosses file systems (a real EXDEV).
        let store = try PackageStore(root: mountPoint + "/store", scratch: scratch)
        let small = try verifiedTarball(name: "small", version: "1.0.0", in: store)
        try store.commitTarball(small)
        #expect(store.hasTarball(name: "small", version: "1.0.0"))

        let big = try verifiedTarball(name: "big", version: "1.0.0", in: store, padding: 300_000)
        let error = try #require(throws: StoreError.self) { try store.commitTarball(big) }
        #expect(error.code == .diskFull)
        #expect(!store.hasTarball(name: "big", version: "1.0.0"))
        #expect(try store.orphanTemporaryFiles().isEmpty)
        #expect(listTree(store.absolutePackageDirectory(for: "big")).isEmpty)
    }
}

/// `mount -t tmpfs`, when this process may (root, in a place that allows it).
enum Tmpfs {
    static func isAvailable() async -> Bool {
        guard getuid() == 0 else { return false }
        let probe = "/tmp/mirrorstore-tmpfs-probe-\(getpid())"
        try? FileManager.default.createDirectory(atPath: probe, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: probe) }
        guard (try? await mount(at: probe, size: "16k")) != nil else { return false }
        await unmount(probe)
        return true
    }

    static func mount(at path: String, size: String) async throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try await run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", path])
    }

    static func unmount(_ path: String) async {
        try? await run("/bin/umount", [path])
    }

    private static func run(_ tool: String, _ arguments: [String]) async throws {
        guard try await ChildProcess.output(tool, arguments).status == 0 else { throw POSIXError(.EPERM) }
    }
}
