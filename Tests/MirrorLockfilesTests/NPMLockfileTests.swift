import Foundation
import MirrorLockfiles
import Testing

@Suite("package-lock.json")
struct NPMLockfileTests {
    /// What the hand-written v2 and v3 files hold (their `packages` maps are the same).
    static let packagesEntries: [LockfileEntry] = [
        LockfileEntry(name: "foo", version: "1.0.0", source: .workspace("../foo"), location: "../foo"),
        LockfileEntry(
            name: "@babel/code-frame", version: "7.12.13", integrity: SRI.codeFrame,
            resolved: "https://registry.npmjs.org/@babel/code-frame/-/code-frame-7.12.13.tgz", source: .registry,
            location: "node_modules/@babel/code-frame"),
        LockfileEntry(
            name: "js-tokens", version: "4.0.0", integrity: SRI.jsTokens,
            resolved: "https://registry.npmjs.org/js-tokens/-/js-tokens-4.0.0.tgz", source: .registry,
            location: "node_modules/@babel/code-frame/node_modules/js-tokens"),
        LockfileEntry(
            name: "@demo/bar", version: nil, resolved: "packages/bar", source: .link("packages/bar"),
            location: "node_modules/@demo/bar"),
        LockfileEntry(name: "foo", version: nil, resolved: "../foo", source: .link("../foo"), location: "node_modules/foo"),
        LockfileEntry(
            name: "is-positive", version: "3.1.0",
            resolved: "git+ssh://git@github.com/kevva/is-positive.git#97edff6f525f192a3f83cea1944765f769ae2678",
            source: .git("git+ssh://git@github.com/kevva/is-positive.git#97edff6f525f192a3f83cea1944765f769ae2678"),
            location: "node_modules/is-positive"),
        LockfileEntry(
            name: "left-pad", version: "1.3.0", integrity: SRI.leftPad,
            resolved: "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz", source: .registry,
            location: "node_modules/left-pad"),
        LockfileEntry(
            name: "lodash", alias: "my-lodash", version: "4.17.21", integrity: SRI.lodash,
            resolved: "https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz", source: .registry,
            location: "node_modules/my-lodash"),
        LockfileEntry(
            name: "private-thing", version: "2.0.0", integrity: SRI.privateThing,
            resolved: "https://example.com/downloads/private-thing-2.0.0.tgz",
            source: .remoteTarball("https://example.com/downloads/private-thing-2.0.0.tgz"),
            location: "node_modules/private-thing"),
        LockfileEntry(
            name: "with-bundle", version: "2.0.0", integrity: SRI.withBundle,
            resolved: "https://registry.npmjs.org/with-bundle/-/with-bundle-2.0.0.tgz", source: .registry,
            location: "node_modules/with-bundle"),
        LockfileEntry(
            name: "inner", version: "1.0.0", source: .bundled, location: "node_modules/with-bundle/node_modules/inner"),
        LockfileEntry(name: "@demo/bar", version: "0.1.0", source: .workspace("packages/bar"), location: "packages/bar"),
    ]

    static let registryPackages = [
        RegistryPackage(name: "@babel/code-frame", version: "7.12.13", integrity: SRI.codeFrame),
        RegistryPackage(name: "js-tokens", version: "4.0.0", integrity: SRI.jsTokens),
        RegistryPackage(name: "left-pad", version: "1.3.0", integrity: SRI.leftPad),
        RegistryPackage(name: "lodash", version: "4.17.21", integrity: SRI.lodash),
        RegistryPackage(name: "with-bundle", version: "2.0.0", integrity: SRI.withBundle),
    ]

    @Test func version1Tree() throws {
        let lockfile = try Fixtures.lockfile("npm-v1.json", as: "package-lock.json")
        #expect(lockfile.format == .npm)
        #expect(lockfile.formatVersion == "1")
        let expected: [LockfileEntry] = [
            LockfileEntry(
                name: "@babel/code-frame", version: "7.12.13", integrity: SRI.codeFrame,
                resolved: "https://registry.npmjs.org/@babel/code-frame/-/code-frame-7.12.13.tgz", source: .registry,
                location: "node_modules/@babel/code-frame"),
            LockfileEntry(name: "@demo/bar", version: nil, source: .file("packages/bar"), location: "node_modules/@demo/bar"),
            LockfileEntry(name: "foo", version: nil, source: .file("../foo"), location: "node_modules/foo"),
            LockfileEntry(
                name: "is-positive", version: nil,
                source: .git("github:kevva/is-positive#97edff6f525f192a3f83cea1944765f769ae2678"),
                location: "node_modules/is-positive"),
            LockfileEntry(
                name: "left-pad", version: "1.3.0", integrity: "\(SRI.leftPad) sha1-FsOFpsvXxq0GzWpxlar65JMvzz0=",
                resolved: "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz", source: .registry,
                location: "node_modules/left-pad"),
            LockfileEntry(
                name: "lodash", alias: "my-lodash", version: "4.17.21", integrity: SRI.lodash,
                resolved: "https://registry.npmjs.org/lodash/-/lodash-4.17.21.tgz", source: .registry,
                location: "node_modules/my-lodash"),
            LockfileEntry(
                name: "private-thing", version: nil, integrity: SRI.privateThing,
                source: .remoteTarball("https://example.com/downloads/private-thing-2.0.0.tgz"),
                location: "node_modules/private-thing"),
            LockfileEntry(
                name: "ssh-dep", version: nil,
                source: .git("git+ssh://git@github.com/demo/ssh-dep.git#4e7a20843e2f67b213946ac43a43c4d2ea3a66a3"),
                location: "node_modules/ssh-dep"),
            LockfileEntry(
                name: "with-bundle", version: "2.0.0", integrity: SRI.withBundle,
                resolved: "https://registry.npmjs.org/with-bundle/-/with-bundle-2.0.0.tgz", source: .registry,
                location: "node_modules/with-bundle"),
            LockfileEntry(
                name: "js-tokens", version: "4.0.0", integrity: SRI.jsTokens,
                resolved: "https://registry.npmjs.org/js-tokens/-/js-tokens-4.0.0.tgz", source: .registry,
                location: "node_modules/@babel/code-frame/node_modules/js-tokens"),
            LockfileEntry(
                name: "inner", version: "1.0.0", source: .bundled, location: "node_modules/with-bundle/node_modules/inner"),
        ]
        #expect(lockfile.entries == expected)
        var registry = Self.registryPackages
        registry[2].integrity = "\(SRI.leftPad) sha1-FsOFpsvXxq0GzWpxlar65JMvzz0="
        #expect(lockfile.registryPackages == registry)
    }

    @Test func version2PrefersPackages() throws {
        let lockfile = try Fixtures.lockfile("npm-v2.json", as: "package-lock.json")
        #expect(lockfile.formatVersion == "2")
        #expect(lockfile.entries == Self.packagesEntries)
        #expect(lockfile.registryPackages == Self.registryPackages)
    }

    @Test func version3() throws {
        let lockfile = try Fixtures.lockfile("npm-v3.json", as: "npm-shrinkwrap.json")
        #expect(lockfile.format == .npm)
        #expect(lockfile.formatVersion == "3")
        #expect(lockfile.entries == Self.packagesEntries)
        #expect(lockfile.registryPackages == Self.registryPackages)
        #expect(lockfile.nonRegistryEntries.count == 7)
    }

    @Test func version2WithoutPackagesFallsBackToTheTree() throws {
        let text = """
            {"lockfileVersion": 2, "dependencies": {"left-pad": {"version": "1.3.0",
              "resolved": "https://registry.npmjs.org/left-pad/-/left-pad-1.3.0.tgz", "integrity": "\(SRI.leftPad)"}}}
            """
        let lockfile = try Lockfile.parse(Array(text.utf8), fileName: "package-lock.json")
        #expect(lockfile.registryPackages == [RegistryPackage(name: "left-pad", version: "1.3.0", integrity: SRI.leftPad)])
    }

    @Test func registryEntryWithoutResolved() throws {
        // npm's omit-lockfile-registry-resolved writes version and integrity only.
        let text = """
            {"lockfileVersion": 3, "packages": {"": {}, "node_modules/left-pad": {"version": "1.3.0", "integrity": "\(SRI.leftPad)"}}}
            """
        let lockfile = try Lockfile.parse(Array(text.utf8), fileName: "package-lock.json")
        #expect(lockfile.entries.map(\.source) == [.registry])
    }

    @Test func registryOfAnotherHostAndScopeEncoding() throws {
        let text = """
            {"lockfileVersion": 3, "packages": {
              "node_modules/@s/x": {"version": "1.0.0", "resolved": "https://npm.example.com/repo/npm/@s%2fx/-/x-1.0.0.tgz"},
              "node_modules/y": {"version": "1.0.0", "resolved": "https://npm.example.com/y/-/y-1.0.1.tgz"},
              "node_modules/z": {"version": "1.0.0", "resolved": "https://github.com/u/z/archive/v1.0.0.tar.gz"}
            }}
            """
        let lockfile = try Lockfile.parse(Array(text.utf8), fileName: "package-lock.json")
        #expect(
            lockfile.entries.map(\.source) == [
                .registry,
                .remoteTarball("https://npm.example.com/y/-/y-1.0.1.tgz"),
                .git("https://github.com/u/z/archive/v1.0.0.tar.gz"),
            ])
    }

    /// Files written by npm 10 itself (`npm install --package-lock-only --lockfile-version N`) for a
    /// project with a `file:` directory, a `file:` tarball and a workspace.
    @Test(arguments: ["1", "2", "3"])
    func generatedByNPM(version: String) throws {
        let lockfile = try Lockfile.read(path: Fixtures.path("npm-generated-v\(version).json"))
        #expect(lockfile.format == .npm)
        #expect(lockfile.formatVersion == version)
        #expect(lockfile.registryPackages.isEmpty)
        let integrity =
            "sha512-TLRx59p8W2bUHEVQpoKDFuml0sz8BcPe0bLLlhaM9GJZnVtlnn9O562WnL75a+L5OT2yDSvPpshAbgPg4zJv/g=="
        if version == "1" {
            #expect(
                lockfile.entries == [
                    LockfileEntry(name: "@demo/bar", version: nil, source: .file("packages/bar"), location: "node_modules/@demo/bar"),
                    LockfileEntry(name: "foo", version: nil, source: .file("../foo"), location: "node_modules/foo"),
                    LockfileEntry(
                        name: "foo-tgz", version: nil, integrity: integrity, source: .file("../foo/foo-1.0.0.tgz"),
                        location: "node_modules/foo-tgz"),
                ])
        } else {
            #expect(
                lockfile.entries == [
                    LockfileEntry(name: "foo", version: "1.0.0", source: .workspace("../foo"), location: "../foo"),
                    LockfileEntry(
                        name: "@demo/bar", version: nil, resolved: "packages/bar", source: .link("packages/bar"),
                        location: "node_modules/@demo/bar"),
                    LockfileEntry(name: "foo", version: nil, resolved: "../foo", source: .link("../foo"), location: "node_modules/foo"),
                    LockfileEntry(
                        name: "foo", alias: "foo-tgz", version: "1.0.0", integrity: integrity,
                        resolved: "file:../foo/foo-1.0.0.tgz", source: .file("../foo/foo-1.0.0.tgz"),
                        location: "node_modules/foo-tgz"),
                    LockfileEntry(name: "@demo/bar", version: "0.1.0", source: .workspace("packages/bar"), location: "packages/bar"),
                ])
        }
    }
}
