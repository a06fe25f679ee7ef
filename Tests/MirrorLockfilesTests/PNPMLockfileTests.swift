import Foundation
import MirrorLockfiles
import Testing

@Suite("pnpm-lock.yaml")
struct PNPMLockfileTests {
    static func registry(_ name: String, _ version: String, _ integrity: String, at location: String) -> LockfileEntry {
        LockfileEntry(name: name, version: version, integrity: integrity, source: .registry, location: location)
    }

    static let codeload = "https://codeload.github.com/kevva/is-positive/tar.gz/97edff6f525f192a3f83cea1944765f769ae2678"

    @Test func version9() throws {
        let lockfile = try Fixtures.lockfile("pnpm-v9.yaml", as: "pnpm-lock.yaml")
        #expect(lockfile.format == .pnpm)
        #expect(lockfile.formatVersion == "9.0")
        let sshCommit = "4e7a20843e2f67b213946ac43a43c4d2ea3a66a3"
        let expected: [LockfileEntry] = [
            Self.registry("@babel/code-frame", "7.12.13", SRI.codeFrame, at: "@babel/code-frame@7.12.13"),
            LockfileEntry(name: "foo", version: nil, resolved: "../foo", source: .file("../foo"), location: "foo@file:../foo"),
            LockfileEntry(
                name: "is-positive", version: "3.1.0", resolved: Self.codeload, source: .git(Self.codeload),
                location: "is-positive@\(Self.codeload)"),
            Self.registry("js-tokens", "4.0.0", SRI.jsTokens, at: "js-tokens@4.0.0"),
            Self.registry("left-pad", "1.3.0", SRI.leftPad, at: "left-pad@1.3.0"),
            Self.registry("lodash", "4.17.21", SRI.lodash, at: "lodash@4.17.21"),
            Self.registry("react-dom", "18.2.0", SRI.reactDOM, at: "react-dom@18.2.0"),
            Self.registry("react", "18.2.0", SRI.react, at: "react@18.2.0"),
            LockfileEntry(
                name: "ssh-dep", version: "2.0.0", resolved: "git@github.com:demo/ssh-dep.git#\(sshCommit)",
                source: .git("git@github.com:demo/ssh-dep.git#\(sshCommit)"),
                location: "ssh-dep@git+ssh://git@github.com/demo/ssh-dep.git#\(sshCommit)"),
            LockfileEntry(
                name: "private-thing", version: "2.0.0", resolved: "https://example.com/downloads/private-thing-2.0.0.tgz",
                source: .remoteTarball("https://example.com/downloads/private-thing-2.0.0.tgz"),
                location: "private-thing@https://example.com/downloads/private-thing-2.0.0.tgz"),
            LockfileEntry(
                name: "@demo/bar", version: nil, source: .link("packages/bar"),
                location: "importers[\".\"].dependencies.@demo/bar"),
            LockfileEntry(
                name: "lodash", alias: "my-lodash", version: "4.17.21", integrity: SRI.lodash, source: .registry,
                location: "importers[\".\"].dependencies.my-lodash"),
        ]
        #expect(lockfile.entries == expected)
        #expect(
            lockfile.registryPackages.map(\.description) == [
                "@babel/code-frame@7.12.13", "js-tokens@4.0.0", "left-pad@1.3.0", "lodash@4.17.21", "react@18.2.0",
                "react-dom@18.2.0",
            ])
    }

    @Test func version6() throws {
        let lockfile = try Fixtures.lockfile("pnpm-v6.yaml", as: "pnpm-lock.yaml")
        #expect(lockfile.formatVersion == "6.0")
        let expected: [LockfileEntry] = [
            Self.registry("@babel/code-frame", "7.12.13", SRI.codeFrame, at: "/@babel/code-frame@7.12.13"),
            Self.registry("js-tokens", "4.0.0", SRI.jsTokens, at: "/js-tokens@4.0.0"),
            Self.registry("left-pad", "1.3.0", SRI.leftPad, at: "/left-pad@1.3.0"),
            Self.registry("lodash", "4.17.21", SRI.lodash, at: "/lodash@4.17.21"),
            Self.registry("react-dom", "18.2.0", SRI.reactDOM, at: "/react-dom@18.2.0(react@18.2.0)"),
            Self.registry("react", "18.2.0", SRI.react, at: "/react@18.2.0"),
            LockfileEntry(name: "foo", version: "1.0.0", resolved: "../foo", source: .file("../foo"), location: "file:../foo"),
            LockfileEntry(
                name: "is-positive", version: "3.1.0", resolved: Self.codeload, source: .git(Self.codeload),
                location: "github.com/kevva/is-positive/97edff6f525f192a3f83cea1944765f769ae2678"),
            LockfileEntry(
                name: "@demo/bar", version: nil, source: .link("packages/bar"),
                location: "importers[\".\"].dependencies.@demo/bar"),
            LockfileEntry(
                name: "lodash", alias: "my-lodash", version: "4.17.21", integrity: SRI.lodash, source: .registry,
                location: "importers[\".\"].dependencies.my-lodash"),
        ]
        #expect(lockfile.entries == expected)
    }

    @Test func version5() throws {
        let lockfile = try Fixtures.lockfile("pnpm-v5.yaml", as: "pnpm-lock.yaml")
        #expect(lockfile.formatVersion == "5.4")
        let expected: [LockfileEntry] = [
            Self.registry("@babel/code-frame", "7.12.13", SRI.codeFrame, at: "/@babel/code-frame/7.12.13"),
            Self.registry("left-pad", "1.3.0", SRI.leftPad, at: "/left-pad/1.3.0"),
            Self.registry("lodash", "4.17.21", SRI.lodash, at: "/lodash/4.17.21"),
            Self.registry("react-dom", "18.2.0", SRI.reactDOM, at: "/react-dom/18.2.0_react@18.2.0"),
            Self.registry("react", "18.2.0", SRI.react, at: "/react/18.2.0"),
            LockfileEntry(
                name: "local-lib", version: nil, source: .link("../local-lib"),
                location: "importers[\".\"].dependencies.local-lib"),
            LockfileEntry(
                name: "lodash", alias: "my-lodash", version: "4.17.21", integrity: SRI.lodash, source: .registry,
                location: "importers[\".\"].dependencies.my-lodash"),
        ]
        #expect(lockfile.entries == expected)
    }

    @Test func registryTarballResolution() throws {
        let text = """
            lockfileVersion: '9.0'
            packages:
              '@s/x@1.0.0':
                resolution: {integrity: \(SRI.lodash), tarball: https://npm.example.com/@s/x/-/x-1.0.0.tgz}
              y@file:y-1.0.0.tgz:
                resolution: {integrity: \(SRI.leftPad), tarball: file:y-1.0.0.tgz}
                version: 1.0.0
            """
        let lockfile = try Lockfile.parse(Array(text.utf8), fileName: "pnpm-lock.yaml")
        #expect(lockfile.entries.map(\.source) == [.registry, .file("y-1.0.0.tgz")])
        #expect(lockfile.entries.map(\.integrity) == [SRI.lodash, SRI.leftPad])
    }

    @Test func unsupportedVersion() {
        let error = #expect(throws: LockfileError.self) {
            try Lockfile.parse(Array("lockfileVersion: '3.9'\n".utf8), fileName: "pnpm-lock.yaml")
        }
        #expect(error?.kind == .unsupportedVersion)
    }
}
