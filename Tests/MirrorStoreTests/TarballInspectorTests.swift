import Foundation
import Testing

@testable import MirrorStore

@Suite("Tarball inspection")
struct TarballInspectorTests {
    /// Writes `bytes` to a file and inspects it.
    private func inspect(
        _ bytes: [UInt8],
        name: String = "demo",
        version: String = "1.0.0",
        limits: TarballInspector.Limits = .init()
    ) throws -> TarballSummary {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let path = directory.path + "/t.tgz"
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return try TarballInspector(limits: limits).inspect(fileAt: path, expectedName: name, expectedVersion: version)
    }

    private func reason(
        _ bytes: [UInt8],
        name: String = "demo",
        version: String = "1.0.0",
        limits: TarballInspector.Limits = .init()
    ) throws -> TarballVerificationError.Reason {
        let error = try #require(throws: TarballVerificationError.self) {
            _ = try inspect(bytes, name: name, version: version, limits: limits)
        }
        return error.reason
    }

    /// A valid package, then `hostile` entries.
    private func tarball(_ hostile: (inout TarBuilder) -> Void) throws -> [UInt8] {
        var tar = TarBuilder()
        tar.addPackageJSON(name: "demo", version: "1.0.0")
        tar.add("package/index.js", contents: Array("module.exports = 1\n".utf8))
        hostile(&tar)
        return try gzip(tar.finished())
    }

    @Test("the real foobar tarballs pass", arguments: [("1.0.0", 2), ("1.1.0", 3)])
    func realTarballs(version: String, entries: Int) throws {
        let summary = try TarballInspector().inspect(
            fileAt: Fixtures.path("foobar-\(version).tgz"),
            expectedName: "foobar",
            expectedVersion: version
        )
        #expect(summary.entryCount == entries)
        #expect(summary.packageFolder == "package")
        #expect(summary.packageName == "foobar")
        #expect(summary.packageVersion == version)
        #expect(summary.unpackedBytes > 305)
    }

    @Test("the real tarball is refused under another version")
    func realTarballWrongVersion() throws {
        let error = try #require(throws: TarballVerificationError.self) {
            _ = try TarballInspector().inspect(fileAt: Fixtures.path("foobar-1.0.0.tgz"), expectedName: "foobar", expectedVersion: "1.1.0")
        }
        #expect(error.reason == .packageJSONMismatch)
    }

    @Test("a hand-made valid tarball passes, with safe links and another top folder name")
    func validHandMade() throws {
        let summary = try inspect(try tarball { tar in
            tar.add("package/lib/", type: .directory)
            tar.add("package/lib/alias.js", type: .symlink, linkTarget: "../index.js")
            tar.add("package/lib/same.js", type: .hardlink, linkTarget: "package/index.js")
        })
        #expect(summary.entryCount == 5)

        var other = TarBuilder()
        other.addPackageJSON(name: "demo", version: "v1.0.0", folder: "node-demo")
        let otherSummary = try inspect(try gzip(other.finished()))
        #expect(otherSummary.packageFolder == "node-demo")
        #expect(otherSummary.packageVersion == "v1.0.0")
    }

    @Test("entries with .. are pathTraversal")
    func dotDot() throws {
        #expect(try reason(try tarball { $0.add("../x", contents: [1]) }) == .pathTraversal)
        #expect(try reason(try tarball { $0.add("package/../../x", contents: [1]) }) == .pathTraversal)
        #expect(try reason(try tarball { $0.add("package\\..\\..\\x", contents: [1]) }) == .pathTraversal)
    }

    @Test("absolute entries are absolutePath")
    func absolute() throws {
        #expect(try reason(try tarball { $0.add("/etc/passwd", contents: Array("root:x:0:0".utf8)) }) == .absolutePath)
        #expect(try reason(try tarball { $0.add("C:\\x", contents: [1]) }) == .absolutePath)
    }

    @Test("links leaving the package are linkEscapes")
    func links() throws {
        #expect(try reason(try tarball { $0.add("package/lib/evil", type: .symlink, linkTarget: "../../x") }) == .linkEscapes)
        #expect(try reason(try tarball { $0.add("package/evil", type: .symlink, linkTarget: "/etc/passwd") }) == .linkEscapes)
        #expect(try reason(try tarball { $0.add("package/evil", type: .hardlink, linkTarget: "/etc/x") }) == .linkEscapes)
        #expect(try reason(try tarball { $0.add("package/evil", type: .hardlink, linkTarget: "package/../../x") }) == .linkEscapes)
    }

    @Test("device entries are unsupportedEntryType")
    func device() throws {
        #expect(try reason(try tarball { $0.add("package/dev", type: .characterDevice) }) == .unsupportedEntryType)
    }

    @Test("a header claiming a huge size is tooLarge before any data is read")
    func hugeClaim() throws {
        let bomb = try tarball { $0.add("package/huge.bin", declaredSize: 0o77777777777, writeData: false) }
        #expect(try reason(bomb) == .tooLarge)
        let small = TarballInspector.Limits(maxUnpackedBytes: 10)
        #expect(try reason(try tarball { _ in }, limits: small) == .tooLarge)
    }

    @Test("too many entries are refused")
    func manyEntries() throws {
        let bomb = try tarball { tar in
            for index in 0..<150 { tar.add("package/f\(index)", contents: [UInt8(index & 0xFF)]) }
        }
        #expect(try reason(bomb, limits: .init(maxEntries: 100)) == .tooManyEntries)
        #expect(try inspect(bomb, limits: .init(maxEntries: 152)).entryCount == 152)
    }

    @Test("not gzip, gzip of garbage, gzip twice, truncated")
    func notArchives() throws {
        var plain = TarBuilder()
        plain.addPackageJSON(name: "demo", version: "1.0.0")
        #expect(try reason(plain.finished()) == .notGzip)
        #expect(try reason(Array("hello, not a tarball".utf8)) == .notGzip)
        #expect(try reason([]) == .notGzip)

        var generator = SystemRandomNumberGenerator()
        let garbage = (0..<20_000).map { _ in UInt8.random(in: 0...255, using: &generator) }
        #expect(try reason(try gzip(garbage)) == .corruptArchive)

        #expect(try reason(try gzip(try gzip(plain.finished()))) == .notGzip)

        // The real file is a 527-byte gzip stream padded with zeros to 10240 bytes.
        let real = try Fixtures.bytes("foobar-1.1.0.tgz")
        for length in [20, 300, 500] {
            #expect(try reason(Array(real.prefix(length)), name: "foobar", version: "1.1.0") == .corruptArchive)
        }
    }

    @Test("package.json: missing, malformed, or naming another package")
    func packageJSON() throws {
        var none = TarBuilder()
        none.add("package/index.js", contents: [1])
        #expect(try reason(try gzip(none.finished())) == .missingPackageJSON)

        var nested = TarBuilder()
        nested.add("package/lib/package.json", contents: Array("{}".utf8))
        #expect(try reason(try gzip(nested.finished())) == .missingPackageJSON)

        var two = TarBuilder()
        two.addPackageJSON(name: "demo", version: "1.0.0", folder: "a")
        two.addPackageJSON(name: "demo", version: "1.0.0", folder: "b")
        #expect(try reason(try gzip(two.finished())) == .missingPackageJSON)

        for body in ["{not json", "[1,2]", "{\"name\":\"demo\"}", "{\"name\":\"demo\",\"version\":1}"] {
            var malformed = TarBuilder()
            malformed.add("package/package.json", contents: Array(body.utf8))
            #expect(try reason(try gzip(malformed.finished())) == .malformedPackageJSON, "\(body)")
        }

        var other = TarBuilder()
        other.addPackageJSON(name: "evil", version: "1.0.0")
        #expect(try reason(try gzip(other.finished())) == .packageJSONMismatch)
        #expect(try reason(try tarball { _ in }, version: "2.0.0") == .packageJSONMismatch)
        #expect(try reason(try tarball { _ in }, name: "Demo") == .packageJSONMismatch)
    }
}
