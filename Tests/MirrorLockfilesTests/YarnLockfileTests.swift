import Foundation
import MirrorLockfiles
import Testing

@Suite("yarn.lock")
struct YarnLockfileTests {
    static let codeload = "https://codeload.github.com/kevva/is-positive/tar.gz/97edff6f525f192a3f83cea1944765f769ae2678"

    @Test func classic() throws {
        let lockfile = try Fixtures.lockfile("yarn-classic.lock", as: "yarn.lock")
        #expect(lockfile.format == .yarnClassic)
        #expect(lockfile.formatVersion == "1")
        let lodashKeys = "lodash@4.17.21, my-lodash@npm:lodash@4.17.21"
        let lodashURL = "https://registry.yarnpkg.com/lodash/-/lodash-4.17.21.tgz#901466a5bb52ee6de63e3e385285e690d5cba424"
        let sshURL = "git+ssh://git@github.com/demo/ssh-dep.git#4e7a20843e2f67b213946ac43a43c4d2ea3a66a3"
        let privateURL = "https://example.com/downloads/private-thing-2.0.0.tgz"
        let expected: [LockfileEntry] = [
            LockfileEntry(
                name: "@babel/code-frame", version: "7.12.13", integrity: SRI.codeFrame,
                resolved:
                    "https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.12.13.tgz#d7f6622ba1f9e20f0a7910fd3373015f13779759",
                source: .registry, location: "@babel/code-frame@^7.0.0, @babel/code-frame@^7.10.4"),
            LockfileEntry(name: "foo", version: "1.0.0", source: .file("../foo"), location: "foo@file:../foo"),
            LockfileEntry(
                name: "is-positive", version: "3.1.0", resolved: Self.codeload, source: .git(Self.codeload),
                location: "is-positive@github:kevva/is-positive"),
            LockfileEntry(
                name: "js-tokens", version: "4.0.0", integrity: SRI.jsTokensSHA1,
                resolved: "https://registry.yarnpkg.com/js-tokens/-/js-tokens-4.0.0.tgz#4d4bd6bd9c736378ea6660f91bf94c1338a84360",
                source: .registry, location: "js-tokens@^4.0.0"),
            LockfileEntry(
                name: "left-pad", version: "1.3.0", integrity: SRI.leftPad,
                resolved: "https://registry.yarnpkg.com/left-pad/-/left-pad-1.3.0.tgz#16c385a6cbd7c6ad06cd6a7195aafae4932fcf3d",
                source: .registry, location: "left-pad@^1.3.0"),
            LockfileEntry(name: "local-lib", version: "0.0.0", source: .link("../local-lib"), location: "local-lib@link:../local-lib"),
            LockfileEntry(
                name: "lodash", version: "4.17.21", integrity: SRI.lodash, resolved: lodashURL, source: .registry,
                location: lodashKeys),
            LockfileEntry(
                name: "lodash", alias: "my-lodash", version: "4.17.21", integrity: SRI.lodash, resolved: lodashURL,
                source: .registry, location: lodashKeys),
            LockfileEntry(
                name: "ssh-dep", version: "2.0.0", resolved: sshURL, source: .git(sshURL),
                location: "ssh-dep@git+ssh://git@github.com/demo/ssh-dep.git"),
            LockfileEntry(
                name: "private-thing", version: "2.0.0", resolved: privateURL, source: .remoteTarball(privateURL),
                location: "private-thing@\(privateURL)"),
        ]
        #expect(lockfile.entries == expected)
        #expect(
            lockfile.registryPackages == [
                RegistryPackage(name: "@babel/code-frame", version: "7.12.13", integrity: SRI.codeFrame),
                RegistryPackage(name: "js-tokens", version: "4.0.0", integrity: SRI.jsTokensSHA1),
                RegistryPackage(name: "left-pad", version: "1.3.0", integrity: SRI.leftPad),
                RegistryPackage(name: "lodash", version: "4.17.21", integrity: SRI.lodash),
            ])
    }

    @Test func classicSyntaxDetails() throws {
        // CRLF, no header (the file name decides), unquoted values, comments, escapes, `key: value`.
        let text =
            "# a comment\r\n\r\nleft-pad@^1.3.0, left-pad@~1.3.0:\r\n  version \"1.3.0\" # trailing\r\n"
            + "  resolved \"https://registry.yarnpkg.com/left-pad/-/left-pad-1.3.0.tgz\"\r\n"
            + "  integrity \(SRI.leftPad)\r\n  dependencies:\r\n    x \"^1\"\r\n  optionalDependencies:\r\n"
            + "\"left\\u002dpad@^2\":\r\n  version: \"2.0.0\"\r\n"
        let lockfile = try Lockfile.parse(Array(text.utf8), fileName: "some/dir/yarn.lock")
        #expect(lockfile.format == .yarnClassic)
        try #require(lockfile.entries.count == 2)
        #expect(lockfile.entries[0].location == "left-pad@^1.3.0, left-pad@~1.3.0")
        #expect(lockfile.entries[0].integrity == SRI.leftPad)
        #expect(lockfile.entries[0].source == .registry)
        #expect(lockfile.entries[1].name == "left-pad")
        #expect(lockfile.entries[1].source == .other("no resolved URL"))
        #expect(lockfile.entries[1].version == "2.0.0")
    }

    @Test func berry() throws {
        let lockfile = try Fixtures.lockfile("yarn-berry.lock", as: "yarn.lock")
        #expect(lockfile.format == .yarnBerry)
        #expect(lockfile.formatVersion == "8")
        let lodashKey = "lodash@npm:4.17.21, my-lodash@npm:lodash@^4.17.21"
        let patched = "resolve@patch:resolve@npm%3A1.22.8#optional!builtin<compat/resolve>::version=1.22.8&hash=c3c19d"
        let gitURL = "https://github.com/kevva/is-positive.git#commit=97edff6f525f192a3f83cea1944765f769ae2678"
        let expected: [LockfileEntry] = [
            LockfileEntry(
                name: "@babel/code-frame", version: "7.12.13", resolved: "@babel/code-frame@npm:7.12.13", source: .registry,
                location: "@babel/code-frame@npm:^7.0.0, @babel/code-frame@npm:^7.10.4"),
            LockfileEntry(
                name: "@demo/bar", version: "0.0.0-use.local", resolved: "@demo/bar@workspace:packages/bar",
                source: .workspace("packages/bar"), location: "@demo/bar@workspace:packages/bar"),
            LockfileEntry(
                name: "demo-app", version: "0.0.0-use.local", resolved: "demo-app@workspace:.", source: .workspace("."),
                location: "demo-app@workspace:."),
            LockfileEntry(
                name: "foo", version: "1.0.0",
                resolved: "foo@file:../foo#../foo::hash=3c6bc1&locator=demo-app%40workspace%3A.", source: .file("../foo"),
                location: "foo@file:../foo::locator=demo-app%40workspace%3A."),
            LockfileEntry(
                name: "is-positive", version: "3.1.0", resolved: "is-positive@\(gitURL)", source: .git(gitURL),
                location: "is-positive@github:kevva/is-positive"),
            LockfileEntry(
                name: "js-tokens", version: "4.0.0", resolved: "js-tokens@npm:4.0.0", source: .registry,
                location: "js-tokens@npm:^4.0.0"),
            LockfileEntry(
                name: "local-lib", version: "0.0.0-use.local",
                resolved: "local-lib@link:../local-lib::locator=demo-app%40workspace%3A.", source: .link("../local-lib"),
                location: "local-lib@link:../local-lib::locator=demo-app%40workspace%3A."),
            LockfileEntry(
                name: "lodash", version: "4.17.21", resolved: "lodash@npm:4.17.21", source: .registry, location: lodashKey),
            LockfileEntry(
                name: "lodash", alias: "my-lodash", version: "4.17.21", resolved: "lodash@npm:4.17.21", source: .registry,
                location: lodashKey),
            LockfileEntry(
                name: "resolve", version: "1.22.8", resolved: "resolve@npm:1.22.8", source: .registry,
                location: "resolve@npm:^1.22.8"),
            LockfileEntry(
                name: "resolve", version: "1.22.8", resolved: patched, source: .registry,
                location: "resolve@patch:resolve@npm%3A^1.22.8#optional!builtin<compat/resolve>"),
            LockfileEntry(
                name: "codegen", version: "0.0.0",
                resolved: "codegen@exec:./gen.js#./gen.js::hash=a1b2c3&locator=demo-app%40workspace%3A.",
                source: .other("exec ./gen.js"), location: "codegen@exec:./gen.js::locator=demo-app%40workspace%3A."),
        ]
        #expect(lockfile.entries == expected)
        // Berry's checksum hashes Yarn's zip, not the npm tarball: no integrity anywhere.
        #expect(lockfile.entries.allSatisfy { $0.integrity == nil })
        #expect(
            lockfile.registryPackages == [
                RegistryPackage(name: "@babel/code-frame", version: "7.12.13"),
                RegistryPackage(name: "js-tokens", version: "4.0.0"),
                RegistryPackage(name: "lodash", version: "4.17.21"),
                RegistryPackage(name: "resolve", version: "1.22.8"),
            ])
    }

    @Test func berryPatchOfScopedPackageAndArchiveURL() throws {
        let text = """
            __metadata:
              version: 6

            "@types/node@patch:@types/node@npm%3A20.0.0#./my.patch::locator=app%40workspace%3A.":
              version: 20.0.0
              resolution: "@types/node@patch:@types/node@npm%3A20.0.0#./my.patch::version=20.0.0&hash=abc&locator=app%40workspace%3A."
              languageName: node
              linkType: hard

            "x@npm:1.0.0::__archiveUrl=https%3A%2F%2Fnpm.example.com%2Fx%2F-%2Fx-1.0.0.tgz":
              version: 1.0.0
              resolution: "x@npm:1.0.0::__archiveUrl=https%3A%2F%2Fnpm.example.com%2Fx%2F-%2Fx-1.0.0.tgz"
              languageName: node
              linkType: hard
            """
        let lockfile = try Lockfile.parse(Array(text.utf8), fileName: "yarn.lock")
        #expect(lockfile.formatVersion == "6")
        #expect(lockfile.registryPackages.map(\.description) == ["@types/node@20.0.0", "x@1.0.0"])
    }
}
