import Crypto
import Foundation
import MirrorJSON
import MirrorTestSupport
import Testing
import MirrorSignatures

@testable import MirrorExport

@Suite("Export rows: times, dependency specs, the rows of recorded real packuments")
struct ExportRowsTests {
    @Test("npm's times to microseconds and back; offsets, fractions, leap days, before 1970; nonsense is null")
    func timestamps() {
        #expect(Timestamp.parse("2011-11-04T02:20:58.139Z") == 1_320_373_258_139_000)
        #expect(Timestamp.format(micros: 1_320_373_258_139_000) == "2011-11-04T02:20:58.139Z")
        #expect(Timestamp.parse("1970-01-01T00:00:00Z") == 0)
        #expect(Timestamp.parse("1970-01-01T01:00:00+01:00") == 0)
        #expect(Timestamp.parse("2024-02-29T12:00:00.5Z") == Timestamp.parse("2024-02-29T12:00:00.500Z"))
        #expect(Timestamp.format(micros: Timestamp.parse("2024-02-29T12:00:00.123456Z")!) == "2024-02-29T12:00:00.123456Z")
        #expect(Timestamp.format(micros: Timestamp.parse("1969-12-31T23:59:59.999Z")!) == "1969-12-31T23:59:59.999Z")
        for nonsense in ["", "yesterday", "2023-02-29T00:00:00Z", "2011-11-04", "2011-11-04T02:20:58", "2011-13-04T02:20:58Z", "2011-11-04T02:20:58.Z"] {
            #expect(Timestamp.parse(nonsense) == nil, "\(nonsense)")
        }
        // Every day of four years round-trips through the calendar arithmetic.
        for day in stride(from: -800, to: 800, by: 1) {
            let (year, month, dayOfMonth) = Timestamp.civilFromDays(day)
            #expect(Timestamp.daysFromCivil(year: year, month: month, day: dayOfMonth) == day)
        }
    }

    @Test(
        "dependency specs are classified as npm reads them",
        arguments: [
            ("^1.2.3", "range"), ("~1.2", "range"), (">=1.2.3 <2", "range"), (">= 1.2.3", "range"), ("1.2.3 - 2.0.0", "range"), ("1.x || >=2.5.0", "range"),
            ("*", "range"), ("", "range"), ("x", "range"), ("1.2.3", "version"), ("v1.2.3", "version"), ("1.0.0-beta.1+build.5", "version"),
            ("latest", "tag"), ("next", "tag"), ("beta-2", "tag"), ("npm:lodash@^4", "alias"), ("npm:@scope/pkg@1.0.0", "alias"), ("npm:@scope/pkg", "alias"),
            ("git+https://github.com/user/repo.git#v1", "git"), ("git://github.com/user/repo.git", "git"), ("github:user/repo", "git"),
            ("user/repo", "git"), ("user/repo#semver:^1", "git"), ("gitlab:group/project", "git"), ("https://github.com/user/repo.git", "git"),
            ("https://example.com/pkg-1.0.0.tgz", "remote"), ("http://example.com/download", "remote"), ("file:../vendor/pkg.tgz", "file"),
            ("file:../vendor/pkg", "directory"), ("./local", "directory"), ("../pkg.tar.gz", "file"), ("workspace:*", "workspace"),
            ("workspace:^1.0.0", "workspace"), ("1.2.3.4", "invalid"), ("^1.2.3 || 💥", "invalid"), ("npm:", "invalid"), ("npm:bad name@1", "invalid"),
            (">=x.y", "invalid"),
        ])
    func specs(spec: String, kind: String) {
        #expect(DependencySpec.classify(spec).kind.rawValue == kind, "\(spec)")
    }

    @Test("an alias names its target")
    func aliasTarget() {
        #expect(DependencySpec.classify("npm:@scope/pkg@^2").aliasTarget == "@scope/pkg")
        #expect(DependencySpec.classify("npm:lodash@4").aliasTarget == "lodash")
        #expect(DependencySpec.classify("^4").aliasTarget == nil)
    }

    static func fixture(_ name: String) throws -> [String: JSONValue] {
        try #require(try JSONValue(parsing: Array(Data(contentsOf: recordedFixture("npm-recorded", name)))).objectValue)
    }

    /// The same packument read by Foundation, for expectations independent of MirrorJSON.
    static func foundationFixture(_ name: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: recordedFixture("npm-recorded", name))) as? [String: Any])
    }

    @Test("foobar (recorded): every field of its package, version and maintainer rows from the packument and the record")
    func foobar() throws {
        let packument = try Self.fixture("packument-foobar.json")
        let raw = try Self.foundationFixture("packument-foobar.json")
        let record: [String: JSONValue] = [
            "type": "package", "last_seq": 42, "packument_rev": .string(packument["_rev"]?.stringValue ?? ""),
            "stored_versions": ["1.1.0": ["path": "ab/foobar/foobar-1.1.0.tgz", "bytes": 10240, "integrity": "x"]],
            "signatures": ["1.1.0": "verified", "1.0.0": "missing"],
        ]
        let rows = PackageRows(name: "foobar", record: record, packument: packument, firstSeenSeq: 7, emails: .hashed)
        let times = try #require(raw["time"] as? [String: String])
        let package = try #require(rows.packages.first)
        #expect(package == [
            .text("foobar"), .null, .text("normal"), .timestamp(Timestamp.parse(times["created"]!)!), .timestamp(Timestamp.parse(times["modified"]!)!),
            .text("1.1.0"), .text(#"{"latest":"1.1.0"}"#), .text(raw["description"] as! String), .null, .null, .boolean(false), .integer(2), .integer(7),
            .integer(42), .text(raw["_rev"] as! String),
        ])
        let versions = try #require(raw["versions"] as? [String: [String: Any]])
        #expect(rows.versions.count == versions.count)
        for row in rows.versions {
            guard case .text(let version) = row[1], let manifest = versions[version], let dist = manifest["dist"] as? [String: Any] else {
                Issue.record("row of an unknown version: \(row)")
                continue
            }
            let parts = version.split(separator: ".").compactMap { Int64($0) }
            #expect(Array(row[2...5]) == [.integer(parts[0]), .integer(parts[1]), .integer(parts[2]), .null])
            #expect(row[6] == .timestamp(Timestamp.parse(times[version]!)!))
            #expect(row[9] == .text(dist["integrity"] as! String) && row[10] == .text(dist["shasum"] as! String))
            #expect(row[13] == .boolean(false))
            #expect(row[14] == .text((manifest["engines"] as! [String: String])["node"]!))
            #expect(row[15] == .text((manifest["_npmUser"] as! [String: String])["name"]!))
            #expect(row[16] == .text(version == "1.1.0" ? "verified" : "missing"))
            #expect(row[21] == .boolean(version == "1.1.0"))
            #expect(row[22] == (version == "1.1.0" ? .integer(10240) : .null))
        }
        let maintainers = try #require(raw["maintainers"] as? [[String: String]])
        #expect(rows.maintainers.count == maintainers.count)
        let digest = SHA256.hash(data: Data(maintainers[0]["email"]!.lowercased().utf8)).map { String(format: "%02x", $0) }.joined()
        #expect(rows.maintainers.first == [.text("foobar"), .text(maintainers[0]["name"]!), .text(digest)])
        let plain = PackageRows(name: "foobar", record: record, packument: packument, firstSeenSeq: nil, emails: .plain)
        #expect(plain.maintainers.first?[2] == .text(maintainers[0]["email"]!))
    }

    @Test("npm's security placeholder and an unpublished package (recorded) get their states; a deleted record its row alone")
    func states() throws {
        let holder = PackageRows(name: "webpack.js.org", record: ["type": "package"], packument: try Self.fixture("packument-security-holding.json"), firstSeenSeq: nil, emails: .hashed)
        #expect(holder.packages.first?[2] == .text("security_holder"))
        #expect(holder.versions.count == 1 && holder.versions.first?[5] == .text("security"))
        let unpublished = PackageRows(name: "unpublished", record: ["type": "package"], packument: try Self.fixture("packument-unpublished.json"), firstSeenSeq: nil, emails: .hashed)
        #expect(unpublished.packages.first?[2] == .text("unpublished") && unpublished.versions.isEmpty)
        let deleted = PackageRows(name: "gone", record: ["type": "package", "deleted": true, "last_seq": 9], packument: nil, firstSeenSeq: 3, emails: .hashed)
        #expect(deleted.packages.count == 1 && deleted.packages[0][2] == .text("deleted") && deleted.count == 1)
    }

    @Test("dependencies of every kind, bundled ones, peer-optional, aliases, git, invalid specs and a unicode description")
    func dependencies() throws {
        let manifest: JSONValue = [
            "dependencies": ["a": "^1", "b": "npm:real-b@2", "c": "github:user/c", "d": "not a spec!"],
            "devDependencies": ["e": "file:../e"],
            "peerDependencies": ["react": ">=17", "react-dom": ">=17"],
            "peerDependenciesMeta": ["react-dom": ["optional": true]],
            "optionalDependencies": ["fsevents": "^2"],
            "bundleDependencies": ["a"],
            "scripts": ["postinstall": "node build.js"],
            "license": ["type": "MIT"],
            "deprecated": "use other",
        ]
        let packument: [String: JSONValue] = [
            "name": "ünï-pkg", "description": "naïve ☃ — “quoted”, with, commas\nand a line", "dist-tags": ["latest": "1.0.0"], "versions": ["1.0.0": manifest],
        ]
        let rows = PackageRows(name: "ünï-pkg", record: ["type": "package"], packument: packument, firstSeenSeq: nil, emails: .hashed)
        let found = rows.dependencies.map { row in [row[2], row[3], row[5], row[6], row[7]].map { $0.text ?? "∅" }.joined(separator: " ") }
        #expect(found == [
            "prod a range ∅ ∅", "prod b alias real-b ∅", "prod c git ∅ ∅", "prod d invalid ∅ ∅", "dev e directory ∅ ∅",
            "peer react range ∅ false", "peer react-dom range ∅ true", "optional fsevents range ∅ ∅", "bundled a range ∅ ∅",
        ])
        let version = try #require(rows.versions.first)
        #expect(version[13] == .boolean(true) && version[8] == .text("MIT") && version[7] == .text("use other"))
        #expect(rows.packages.first?[10] == .boolean(true), "every version deprecated")
        #expect(rows.packages.first?[7] == .text("naïve ☃ — “quoted”, with, commas\nand a line"))
    }

    @Test("provenance: repository, commit and workflow from the real SLSA statement of sigstore@1.0.0")
    func provenance() throws {
        let bytes = Array(try Data(contentsOf: recordedFixture("npm-signatures", "attestations-sigstore-1.0.0.json")))
        let source = try #require(ProvenanceStatement.source(attestations: bytes))
        #expect(source.repository == "https://github.com/sigstore/sigstore-js")
        #expect(source.commit == "06528997c3c8ab9f864fad9a3658446aca7fd86d")
        #expect(source.workflow == ".github/workflows/publish.yml")
        #expect(ProvenanceStatement.source(attestations: Array("{\"attestations\":[]}".utf8)) == nil)
        #expect(ProvenanceStatement.source(attestations: Array("not json".utf8)) == nil)
    }

    @Test("CSV fields: quoted when they must be, quotes doubled, null empty, empty text quoted")
    func csvFields() {
        #expect(CSVSink.line([.text("a"), .null, .text(""), .text("x,y"), .text("say \"hi\""), .text("two\r\nlines"), .text(" padded"), .integer(-3), .boolean(true)])
            == "a,,\"\",\"x,y\",\"say \"\"hi\"\"\",\"two\r\nlines\",\" padded\",-3,true\r\n")
        var counter = CSVRecordCounter()
        counter.feed(Array("h1,h2\r\n\"a\r\nb\",c\r\n,\r\n".utf8))
        #expect(counter.records == 3)
    }
}
