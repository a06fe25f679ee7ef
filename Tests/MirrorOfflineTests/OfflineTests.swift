import Crypto
import Foundation
import Logging
import MirrorJSON
import MirrorLockfiles
import MirrorOffline
import MirrorStore
import MirrorTestSupport
import Testing

/// A store with one package, `@scope/tool`: 1.0.0 (held), 1.1.0 (held, its tarball is not what the
/// lockfile says), 2.0.0 (listed, not held) and 3.0.0 (held, published an hour ago).
private struct Fixture {
    let store: PackageStore
    let tarball = Array("the bytes of tool 1.0.0".utf8)
    let now = Int64(Date().timeIntervalSince1970)

    init() throws {
        let directory = try temporaryDirectory()
        store = try PackageStore(root: directory + "/packages", scratch: directory + "/scratch", shardLength: 2)
        let recent = Date(timeIntervalSince1970: TimeInterval(now - 3600)).formatted(.iso8601)
        let packument = """
            {"_id":"@scope/tool","_rev":"5-abc","name":"@scope/tool","dist-tags":{"latest":"3.0.0"},
            "time":{"created":"2020-01-01T00:00:00.000Z","1.0.0":"2020-01-01T00:00:00.000Z","1.1.0":"2020-02-01T00:00:00.000Z",
            "2.0.0":"2021-01-01T00:00:00.000Z","3.0.0":"\(recent)"},
            "versions":{
            "1.0.0":{"name":"@scope/tool","version":"1.0.0","dist":{"shasum":"0000","tarball":"https://registry.npmjs.org/@scope/tool/-/tool-1.0.0.tgz"}},
            "1.1.0":{"name":"@scope/tool","version":"1.1.0","dist":{"shasum":"0000","tarball":"https://registry.npmjs.org/@scope/tool/-/tool-1.1.0.tgz"}},
            "2.0.0":{"name":"@scope/tool","version":"2.0.0","dist":{"shasum":"0000","tarball":"https://registry.npmjs.org/@scope/tool/-/tool-2.0.0.tgz"}},
            "3.0.0":{"name":"@scope/tool","version":"3.0.0","dist":{"shasum":"0000","tarball":"https://registry.npmjs.org/@scope/tool/-/tool-3.0.0.tgz"}}}}
            """
        try store.storePackument(name: "@scope/tool", rev: "5-abc", json: Array(packument.utf8))
        try put("1.0.0", tarball)
        try put("1.1.0", Array("something else".utf8))
        try put("3.0.0", Array("new".utf8))
    }

    func put(_ version: String, _ bytes: [UInt8]) throws {
        let folder = store.absolutePackageDirectory(for: "@scope/tool")
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: folder + "/" + (try store.tarballFileName(name: "@scope/tool", version: version))))
    }

    static func sri(_ bytes: [UInt8]) -> String {
        "sha512-" + Data(SHA512.hash(data: bytes)).base64EncodedString()
    }

    /// A v3 package-lock naming every case.
    func lockfile() -> String {
        """
        {"name":"app","version":"1.0.0","lockfileVersion":3,"requires":true,"packages":{
          "":{"name":"app","version":"1.0.0"},
          "node_modules/@scope/tool":{"version":"1.0.0","resolved":"https://registry.npmjs.org/@scope/tool/-/tool-1.0.0.tgz","integrity":"\(Self.sri(tarball))"},
          "node_modules/a/node_modules/@scope/tool":{"version":"1.1.0","resolved":"https://registry.npmjs.org/@scope/tool/-/tool-1.1.0.tgz","integrity":"\(Self.sri(tarball))"},
          "node_modules/b/node_modules/@scope/tool":{"version":"2.0.0","resolved":"https://registry.npmjs.org/@scope/tool/-/tool-2.0.0.tgz"},
          "node_modules/c/node_modules/@scope/tool":{"version":"3.0.0","resolved":"https://registry.npmjs.org/@scope/tool/-/tool-3.0.0.tgz","integrity":"\(Self.sri(Array("new".utf8)))"},
          "node_modules/d/node_modules/@scope/tool":{"version":"9.9.9","resolved":"https://registry.npmjs.org/@scope/tool/-/tool-9.9.9.tgz"},
          "node_modules/absent":{"version":"1.0.0","resolved":"https://registry.npmjs.org/absent/-/absent-1.0.0.tgz"},
          "node_modules/from-git":{"version":"1.0.0","resolved":"git+ssh://git@github.com/u/r.git#0123456789abcdef0123456789abcdef01234567"},
          "node_modules/alias":{"name":"@scope/tool","version":"1.0.0","resolved":"https://registry.npmjs.org/@scope/tool/-/tool-1.0.0.tgz","integrity":"\(Self.sri(tarball))"}
        }}
        """
    }
}

@Suite("Lockfile coverage against the store")
struct LockfileCoverageTests {
    @Test("each verdict for the case that causes it; git is listed, not failed")
    func verdicts() throws {
        let fixture = try Fixture()
        let lockfile = try Lockfile.parse(Array(fixture.lockfile().utf8), fileName: "package-lock.json")
        let coverage = LockfileCoverage(store: fixture.store, cooldown: ReleaseCooldown(minimumAge: .seconds(7 * 86_400)), now: fixture.now)
        let report = coverage.check(lockfile, path: "package-lock.json")
        func verdict(_ name: String, _ version: String) -> LockfileCoverage.Verdict? {
            report.rows.first { $0.name == name && $0.version == version }?.verdict
        }
        #expect(verdict("@scope/tool", "1.0.0") == .served)
        #expect(verdict("@scope/tool", "1.1.0") == .integrityMismatch)
        #expect(verdict("@scope/tool", "2.0.0") == .tarballMissing)
        #expect(verdict("@scope/tool", "3.0.0") == .heldBack)
        #expect(verdict("@scope/tool", "9.9.9") == .versionMissing)
        #expect(verdict("absent", "1.0.0") == .packageMissing)
        #expect(report.rows.contains { $0.name == "from-git" && $0.verdict == .notRegistry && $0.detail.hasPrefix("git") })
        // The alias is the same registry package as the first entry: one row.
        #expect(report.rows.filter { $0.name == "@scope/tool" && $0.version == "1.0.0" }.count == 1)
        #expect(!report.installsOffline)
        #expect(report.json["installs_offline"] == .bool(false))
        #expect(report.json["counts"]?["held_back"] == .number(1))

        // Without the cooldown 3.0.0 is served; and with only the served entries the lockfile installs.
        let open = LockfileCoverage(store: fixture.store, now: fixture.now).check(lockfile, path: "x")
        #expect(open.rows.first { $0.version == "3.0.0" }?.verdict == .served)
        let good = try Lockfile.parse(Array("""
            {"lockfileVersion":3,"packages":{"":{"name":"app"},
            "node_modules/@scope/tool":{"version":"1.0.0","resolved":"https://registry.npmjs.org/@scope/tool/-/tool-1.0.0.tgz","integrity":"\(Fixture.sri(fixture.tarball))"},
            "node_modules/from-git":{"version":"1.0.0","resolved":"git+ssh://git@github.com/u/r.git#0123456789abcdef0123456789abcdef01234567"}}}
            """.utf8), fileName: "package-lock.json")
        #expect(coverage.check(good, path: "x").installsOffline)
    }

    @Test("a metadata-only mirror serves no tarball")
    func metadataOnly() throws {
        let fixture = try Fixture()
        let lockfile = try Lockfile.parse(Array(fixture.lockfile().utf8), fileName: "package-lock.json")
        let report = LockfileCoverage(store: fixture.store, metadataOnly: true, now: fixture.now).check(lockfile, path: "x")
        #expect(report.rows.first { $0.version == "1.0.0" }?.verdict == .tarballMissing)
    }
}

@Suite("Pin sets")
struct PinSetTests {
    @Test("a lockfile's pin set: its registry packages, stored and read back; ids are safe and stable")
    func lockfileSet() throws {
        let directory = try temporaryDirectory()
        let fixture = try Fixture()
        let path = directory + "/package-lock.json"
        try fixture.lockfile().write(toFile: path, atomically: true, encoding: .utf8)
        let set = try PinSet(lockfileAt: path, pinnedAt: "2026-12-07T00:00:00Z")
        #expect(set.packages["@scope/tool"] == ["1.0.0", "1.1.0", "2.0.0", "3.0.0", "9.9.9"])
        #expect(set.packages["absent"] == ["1.0.0"])
        #expect(set.packages["from-git"] == nil)
        #expect(set.id == PinSet.id(forLockfileAt: path))
        #expect(set.id != PinSet.id(forLockfileAt: directory + "/other/package-lock.json"))
        #expect(PinSet.isValidID(set.id))
        #expect(!PinSet.isValidID("../x") && !PinSet.isValidID(".sent") && !PinSet.isValidID("a/b"))

        let folder = PinFolder(path: directory + "/pins")
        try folder.write(set)
        #expect(try folder.set(id: set.id) == set)
        #expect(folder.list().sets == [set])
        #expect(try folder.remove(id: set.id))
        #expect(try !folder.remove(id: set.id))
        #expect(throws: PinError.self) { try folder.remove(id: "../../etc/passwd") }
    }

    @Test("a file that is not a lockfile is refused with its name")
    func notALockfile() throws {
        let directory = try temporaryDirectory()
        try "{\"hello\": 1}".write(toFile: directory + "/x.json", atomically: true, encoding: .utf8)
        #expect { try PinSet(lockfileAt: directory + "/x.json", pinnedAt: "") } throws: { error in
            "\(error)".contains("x.json")
        }
    }

    @Test("the index sees a new set, a removed one, and keeps what an unreadable set pinned")
    func index() async throws {
        let directory = try temporaryDirectory()
        let folder = PinFolder(path: directory + "/pins")
        let index = PinIndex(folder: folder, recheck: .zero, logger: Logger(label: "test"))
        #expect(await index.pins(of: "a").isEmpty)
        try folder.write(PinSet(id: "one", source: "x", pinnedAt: "", packages: ["a": ["1.0.0"], "b": ["2.0.0"]]))
        try folder.write(PinSet(id: "two", source: "y", pinnedAt: "", packages: ["a": ["1.0.0", "1.1.0"]]))
        #expect(await index.pins(of: "a") == ["1.0.0": ["one", "two"], "1.1.0": ["two"]])
        // Torn by hand: its versions stay pinned (and it is logged).
        try "{not json".write(toFile: directory + "/pins/one.json", atomically: false, encoding: .utf8)
        #expect(await index.pins(of: "b") == ["2.0.0": ["one"]])
        try folder.remove(id: "one")
        try folder.remove(id: "two")
        #expect(await index.pins(of: "a").isEmpty)
        #expect(await index.pins(of: "b").isEmpty)
    }
}
