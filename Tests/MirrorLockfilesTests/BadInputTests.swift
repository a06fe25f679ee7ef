import Foundation
import MirrorLockfiles
import Testing

@Suite("Bad input: clear errors, never a crash or a hang")
struct BadInputTests {
    private func error(_ text: String, fileName: String) -> LockfileError? {
        #expect(throws: LockfileError.self) { try Lockfile.parse(Array(text.utf8), fileName: fileName) }
    }

    @Test func malformedJSON() {
        let failure = error("{\"lockfileVersion\": 3, \"packages\": {", fileName: "package-lock.json")
        #expect(failure?.kind == .malformed)
        #expect(failure?.description.hasPrefix("package-lock.json: not valid JSON") == true)
    }

    @Test func wrongTypes() {
        #expect(error("{\"lockfileVersion\": 3, \"packages\": []}", fileName: "package-lock.json")?.kind == .invalidStructure)
        let failure = error(
            "{\"lockfileVersion\": 3, \"packages\": {\"node_modules/a\": {\"version\": 1}}}", fileName: "package-lock.json")
        #expect(failure?.kind == .invalidStructure)
        #expect(failure?.message == "packages[\"node_modules/a\"]: \"version\" is not a string")
        #expect(error("{\"lockfileVersion\": \"3\"}", fileName: "package-lock.json")?.kind == .invalidStructure)
        #expect(
            error("{\"lockfileVersion\": 1, \"dependencies\": {\"a\": {\"version\": \"1.0.0\", \"bundled\": \"yes\"}}}",
                fileName: "package-lock.json")?.kind == .invalidStructure)
        #expect(error("lockfileVersion: '9.0'\npackages: [1, 2]\n", fileName: "pnpm-lock.yaml")?.kind == .invalidStructure)
        #expect(
            error("lockfileVersion: '9.0'\npackages:\n  a@1.0.0:\n    resolution: sha512-x\n", fileName: "pnpm-lock.yaml")?
                .kind == .invalidStructure)
        #expect(error("__metadata:\n  version: 8\n\"a@npm:^1\":\n  version: 1.0.0\n", fileName: "yarn.lock")?.kind == .invalidStructure)
    }

    @Test func unsupportedAndUnrecognized() {
        #expect(error("{\"lockfileVersion\": 4}", fileName: "package-lock.json")?.kind == .unsupportedVersion)
        #expect(error("{\"name\": \"x\"}", fileName: "package.json")?.kind == .unrecognized)
        #expect(error("hello: world\n", fileName: "config.yaml")?.kind == .unrecognized)
        #expect(error("name: x\n", fileName: "pnpm-lock.yaml")?.kind == .unrecognized)
    }

    @Test func notUTF8() throws {
        let failure = #expect(throws: LockfileError.self) {
            try Lockfile.parse([0x7B, 0xFF, 0xFE, 0x7D], fileName: "package-lock.json")
        }
        #expect(failure?.kind == .malformed)
    }

    @Test func tooLargeInMemory() {
        let bytes = [UInt8](repeating: UInt8(ascii: " "), count: Lockfile.maximumSize + 1)
        let failure = #expect(throws: LockfileError.self) { try Lockfile.parse(bytes, fileName: "package-lock.json") }
        #expect(failure?.kind == .tooLarge)
    }

    /// A 4 GiB sparse file is refused after reading at most the limit.
    @Test func tooLargeOnDisk() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("lockfile-\(UUID()).json").path
        #expect(FileManager.default.createFile(atPath: path, contents: Data("{".utf8)))
        defer { try? FileManager.default.removeItem(atPath: path) }
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: 4 << 30)
        try handle.close()
        let failure = #expect(throws: LockfileError.self) { try Lockfile.read(path: path) }
        #expect(failure?.kind == .tooLarge)
    }

    @Test func unreadable() {
        let failure = #expect(throws: LockfileError.self) { try Lockfile.read(path: "/nonexistent/yarn.lock") }
        #expect(failure?.kind == .unreadable)
        #expect(failure?.file == "/nonexistent/yarn.lock")
    }

    @Test func yamlAliasBomb() {
        var text = "lockfileVersion: '9.0'\nlol0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for level in 1...30 {
            let previous = "*a\(level - 1)"
            text += "lol\(level): &a\(level) [\(Array(repeating: previous, count: 9).joined(separator: ", "))]\n"
        }
        text += "? *a30\n: boom\n"
        let failure = error(text, fileName: "pnpm-lock.yaml")
        #expect(failure?.kind == .yamlAnchors)
        #expect(failure?.line == 2)
    }

    @Test(arguments: [
        "__metadata:\n  version: 8\n\"a@npm:^1\": &x\n  version: 1.0.0\n  resolution: \"a@npm:1.0.0\"\n\"b@npm:^1\": *x\n",
        "lockfileVersion: '9.0'\npackages:\n  a@1.0.0:\n    resolution: {integrity: *sri}\n",
        "lockfileVersion: '9.0'\npackages:\n  - &p a\n",
        "lockfileVersion: '9.0'\nx: [1, &y 2]\n",
    ])
    func yamlAnchorsAreRefused(text: String) {
        #expect(error(text, fileName: "x.lock")?.kind == .yamlAnchors)
    }

    /// `&` and `*` inside scalars are text, not anchors.
    @Test func ampersandsAndStarsInScalars() throws {
        let text = """
            lockfileVersion: '9.0'
            importers:
              .:
                dependencies:
                  a:
                    specifier: '*'
                    version: 1.0.0
                  b:
                    specifier: "1.x || *"
                    version: 1.0.0
                  c:
                    specifier: 1.x || *
                    version: 1.0.0
            packages:
              a@1.0.0: # a & b * c
                resolution: {integrity: \(SRI.lodash)}
            """
        let lockfile = try Lockfile.parse(Array(text.utf8), fileName: "pnpm-lock.yaml")
        #expect(lockfile.entries.count == 1)
    }

    @Test func malformedYAML() {
        let failure = error("lockfileVersion: '9.0'\npackages:\n  a@1.0.0:\n    resolution: {integrity: x\n", fileName: "pnpm-lock.yaml")
        #expect(failure?.kind == .malformed)
        #expect(failure?.line != nil)
    }

    @Test func deepYAMLNesting() {
        let text = "lockfileVersion: '9.0'\nx: " + String(repeating: "[", count: 100_000) + "\n"
        #expect(error(text, fileName: "pnpm-lock.yaml")?.kind == .malformed)
    }

    @Test func deepVersion1Dependencies() throws {
        func nested(_ depth: Int) -> String {
            let open = String(repeating: "{\"version\": \"1.0.0\", \"dependencies\": {\"a\": ", count: depth)
            let close = String(repeating: "}}", count: depth)
            return "{\"lockfileVersion\": 1, \"dependencies\": {\"a\": \(open){\"version\": \"1.0.0\"}\(close)}}"
        }
        let lockfile = try Lockfile.parse(Array(nested(200).utf8), fileName: "package-lock.json")
        #expect(lockfile.entries.count == 201)
        #expect(lockfile.registryPackages == [RegistryPackage(name: "a", version: "1.0.0")])
        #expect(error(nested(100_000), fileName: "package-lock.json")?.kind == .malformed)
    }

    @Test(arguments: [
        ("a@^1:\n  version \"1.0.0\n", 2),
        ("a@^1:\n\tversion \"1.0.0\"\n", 2),
        ("<<<<<<< HEAD\na@^1:\n  version \"1.0.0\"\n", 1),
        ("version \"1.0.0\"\n", 1),
        ("a@^1:\n  version \"1.0.0\"\n   resolved \"x\"\n", 3),
        ("a@^1:\n  version \"1.0\\q\"\n", 2),
        ("a@^1 b@^1:\n  version \"1.0.0\"\n", 1),
    ])
    func malformedYarnClassic(text: String, line: Int) {
        let failure = error("# yarn lockfile v1\n\n" + text, fileName: "yarn.lock")
        #expect(failure?.kind == .malformed)
        #expect(failure?.line == line + 2)
    }

    @Test func deepYarnClassicNesting() {
        var text = "# yarn lockfile v1\n"
        for depth in 0..<100 { text += String(repeating: " ", count: depth * 2) + "k\(depth):\n" }
        let failure = error(text, fileName: "yarn.lock")
        #expect(failure?.kind == .malformed)
        #expect(failure?.message.contains("nested deeper") == true)
    }

    @Test func hostileNames() throws {
        let long = String(repeating: "a", count: 215)
        let text = """
            {"lockfileVersion": 3, "packages": {
              "node_modules/../../etc": {"version": "1.0.0", "resolved": "https://registry.npmjs.org/x/-/x-1.0.0.tgz"},
              "node_modules/": {"version": "1.0.0"},
              "node_modules/evil\\u0007name": {"version": "1.0.0"},
              "node_modules/\(long)": {"version": "1.0.0"},
              "node_modules/@scope": {"version": "1.0.0"},
              "node_modules/ok": {"name": "../x", "version": "1.0.0"},
              "node_modules/bad-version": {"version": "../../1.0.0"},
              "node_modules/good": {"version": "1.0.0"}
            }}
            """
        let lockfile = try Lockfile.parse(Array(text.utf8), fileName: "package-lock.json")
        #expect(lockfile.registryPackages == [RegistryPackage(name: "good", version: "1.0.0")])
        #expect(lockfile.entries.count == 8)
        for entry in lockfile.entries where !["node_modules/good", "node_modules/bad-version"].contains(entry.location) {
            guard case .other(let reason) = entry.source else {
                Issue.record("expected an invalid name at \(entry.location), got \(entry.source)")
                continue
            }
            #expect(reason.hasPrefix("invalid package name"))
            #expect(!reason.unicodeScalars.contains { $0.value < 0x20 })
        }
        #expect(lockfile.entry(at: "node_modules/bad-version")?.source == .other("neither a resolved URL nor an exact version"))

        let berry = "__metadata:\n  version: 8\n\"x@npm:^1\":\n  version: 1.0.0\n  resolution: \"x@npm:../../1.0.0\"\n"
        let berryLockfile = try Lockfile.parse(Array(berry.utf8), fileName: "yarn.lock")
        #expect(berryLockfile.entries.map(\.source) == [.other("invalid version \"../../1.0.0\"")])
    }

    @Test func descriptionsAreSafeToPrint() {
        let thrown = error("{\"lockfileVersion\": 3, \"packages\": {\"node_modules/\\u001b[31mred\": 5}}", fileName: "a\nb.json")
        let description = thrown?.description ?? ""
        #expect(!description.unicodeScalars.contains { $0.value < 0x20 })
        #expect(description.hasPrefix("a\\nb.json: packages["))
    }
}
