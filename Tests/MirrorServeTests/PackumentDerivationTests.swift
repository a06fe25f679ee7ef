import MirrorRecords
@testable import MirrorServe
import Testing

private func derive(_ json: String, held: Set<String>? = nil, name: String = "pkg") throws -> (full: JSONValue, abbreviated: JSONValue, index: DocumentIndex) {
    let derivation = PackumentDerivation(heldVersions: held, tarballBase: "http://mirror")
    let outcome = try Array(json.utf8).withUnsafeBytes { try derivation.derive(packument: $0, name: name) }
    guard case .documents(let full, let abbreviated, let index, _, _) = outcome else {
        throw PackumentDerivation.Failure(description: "expected documents")
    }
    return (try JSONValue(parsing: full), try JSONValue(parsing: abbreviated), index)
}

@Suite("Served documents derived from a packument")
struct PackumentDerivationTests {
    @Test("values are copied byte for byte: number spellings, escapes and key order survive")
    func bytesKept() throws {
        let json = #"{"name":"pkg","x":1.50,"u":"caf\u00e9 \"q\"","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{"version":"1.0.0","z":1e3,"dist":{"integrity":"sha512-A==","n":10.0,"tarball":"https://r/pkg/-/pkg-1.0.0.tgz"}}}}"#
        let derivation = PackumentDerivation(heldVersions: nil, tarballBase: "http://mirror")
        let outcome = try Array(json.utf8).withUnsafeBytes { try derivation.derive(packument: $0, name: "pkg") }
        guard case .documents(let full, _, let index, _, _) = outcome else { Issue.record("no documents"); return }
        let text = String(decoding: full, as: UTF8.self)
        #expect(text.contains(#""x":1.50"#))
        #expect(text.contains(#""u":"caf\u00e9 \"q\"""#))
        #expect(text.contains(#""z":1e3"#))
        #expect(text.contains(#""dist":{"integrity":"sha512-A==","n":10.0,"tarball":"http://mirror/pkg/-/pkg-1.0.0.tgz"}"#))
        // The index points at the version's object in the full document.
        let range = try #require(index.versionRanges["1.0.0"])
        let version = try JSONValue(parsing: Array(full[range]))
        #expect(version["z"] == 1000)
    }

    @Test("repeated keys: the last one wins, as when parsing")
    func repeatedKeys() throws {
        let (full, abbreviated, _) = try derive(#"{"name":"pkg","a":1,"a":2,"versions":{"1.0.0":{"version":"0.9"},"1.0.0":{"version":"1.0.0","dist":{}}},"dist-tags":{"latest":"0.1.0","latest":"1.0.0"}}"#)
        #expect(full["a"] == 2)
        #expect(full["versions"]?["1.0.0"]?["version"] == "1.0.0")
        #expect(abbreviated["dist-tags"] == ["latest": "1.0.0"])
    }

    @Test("a version without dist gets one with the tarball; odd shapes pass through")
    func missingDist() throws {
        let (full, abbreviated, _) = try derive(#"{"name":"@s/pkg","versions":{"1.0.0":{"version":"1.0.0"},"2.0.0":"odd"},"dist-tags":{}}"#, name: "@s/pkg")
        #expect(full["versions"]?["1.0.0"]?["dist"] == ["tarball": "http://mirror/@s/pkg/-/pkg-1.0.0.tgz"])
        #expect(abbreviated["versions"]?["2.0.0"] == "odd")
    }

    @Test("dist-tags fall back to the highest held stable version, a prerelease only when nothing is stable, or are dropped")
    func tagFallback() throws {
        let versions = #"{"1.0.0":{},"1.2.0":{},"1.10.0":{},"2.0.0-rc.1":{},"2.0.0":{}}"#
        let packument = #"{"name":"pkg","versions":\#(versions),"dist-tags":{"latest":"2.0.0","next":"2.0.0-rc.1","one":"1.2.0"}}"#
        let held = try derive(packument, held: ["1.0.0", "1.2.0", "1.10.0", "2.0.0-rc.1"]).abbreviated
        #expect(held["dist-tags"] == ["latest": "1.10.0", "next": "2.0.0-rc.1", "one": "1.2.0"])
        let prereleaseOnly = try derive(packument, held: ["2.0.0-rc.1"]).abbreviated
        #expect(prereleaseOnly["dist-tags"] == ["latest": "2.0.0-rc.1", "next": "2.0.0-rc.1", "one": "2.0.0-rc.1"])
        let nothing = try derive(packument, held: []).abbreviated
        #expect(nothing["dist-tags"] == [:])
        #expect(nothing["versions"] == [:])
    }

    @Test("hasInstallScript: preinstall, install or postinstall with a non-empty command")
    func installScripts() throws {
        let packument = #"{"name":"pkg","versions":{"1.0.0":{"scripts":{"install":"node-gyp rebuild"}},"1.1.0":{"scripts":{"test":"x","postinstall":""}},"1.2.0":{"scripts":{"preinstall":"x"}},"1.3.0":{"hasInstallScript":true}},"dist-tags":{}}"#
        let versions = try derive(packument).abbreviated["versions"]
        #expect(versions?["1.0.0"]?["hasInstallScript"] == true)
        #expect(versions?["1.1.0"]?["hasInstallScript"] == nil)
        #expect(versions?["1.2.0"]?["hasInstallScript"] == true)
        #expect(versions?["1.3.0"]?["hasInstallScript"] == true)
        #expect(versions?["1.0.0"]?["scripts"] == nil)
    }

    @Test("unpublished packuments become the 404 body; documents that are not JSON objects are refused")
    func unpublishedAndBroken() throws {
        let derivation = PackumentDerivation(heldVersions: nil, tarballBase: "http://mirror")
        let stub = #"{"name":"gone","time":{"created":"2020","unpublished":{"time":"2021-01-01T00:00:00.000Z","versions":["1.0.0"]}}}"#
        let outcome = try Array(stub.utf8).withUnsafeBytes { try derivation.derive(packument: $0, name: "gone") }
        guard case .unpublished(let body) = outcome else { Issue.record("expected unpublished"); return }
        #expect(try JSONValue(parsing: body) == ["error": "not_found", "reason": "This package was unpublished at 2021-01-01T00:00:00.000Z."])
        for broken in ["[1,2]", "{\"name\":", "", "{\"versions\":{\"1.0.0\":{]}}"] {
            #expect(throws: PackumentDerivation.Failure.self, "\(broken)") {
                _ = try Array(broken.utf8).withUnsafeBytes { try derivation.derive(packument: $0, name: "x") }
            }
        }
    }

    @Test("semantic version precedence")
    func versionOrder() throws {
        let ordered = ["0.9.9", "1.0.0-alpha", "1.0.0-alpha.1", "1.0.0-alpha.beta", "1.0.0-beta", "1.0.0-beta.2", "1.0.0-beta.11", "1.0.0-rc.1", "1.0.0", "1.2.0", "1.10.0", "10.0.0"]
        let parsed = try ordered.map { try #require(SemanticVersion($0), "\($0)") }
        for (a, b) in zip(parsed, parsed.dropFirst()) { #expect(a < b) }
        #expect(SemanticVersion("1.0") == nil && SemanticVersion("1.0.0-") == nil && SemanticVersion("x.y.z") == nil)
        #expect(SemanticVersion("1.0.0+build") == SemanticVersion("1.0.0"))
        #expect(SemanticVersion.fallback(among: ["1.0.0", "not-a-version", "0.5.0"]) == "1.0.0")
    }

    @Test("request paths: scoped forms, versions, tarballs")
    func paths() throws {
        #expect(try RegistryPaths.parse(path: "/@s%2fp") == .packument(name: "@s/p"))
        #expect(try RegistryPaths.parse(path: "/@s/p/1.0.0") == .version(name: "@s/p", versionOrTag: "1.0.0"))
        #expect(try RegistryPaths.parse(path: "/p/-/p-1.0.0%2Bbuild.1.tgz") == .tarball(name: "p", version: "1.0.0+build.1"))
        #expect(try RegistryPaths.parse(path: "/@s%2Fp/-/p-2.0.0-rc.1.tgz") == .tarball(name: "@s/p", version: "2.0.0-rc.1"))
        #expect(RegistryPaths.tarballFileName(name: "@s/p", version: "1.0.0+b") == "p-1.0.0%2Bb.tgz")
        #expect(throws: RouteRejection.self) { try RegistryPaths.parse(path: "/p/-/p-1.0.0.tgz.tgz") }
    }
}
