import Foundation
import MirrorJSON
import MirrorTestSupport
import Testing

/// `npm-mirror verify` as a process: the built binary (`NPM_MIRROR_BINARIES`, default `.build/debug`).
@Suite("npm-mirror verify (process)")
struct VerifyCommandTests {
    /// The environment of a verify run over `test`'s store, its keys and its records.
    func environment(_ test: VerifyTestStore, _ extra: [String: String] = [:]) throws -> [String: String] {
        let config = test.directory + "/config.json"
        try Data("{}".utf8).write(to: URL(fileURLWithPath: config))
        return [
            "PATH": "/usr/bin:/bin", "CONFIG_FILE": config,
            "REMOTE_PACKAGE_DIR": test.root, "LOCAL_PACKAGE_DIR": test.directory + "/scratch", "SUBDIRECTORY_HASH_LENGTH": "2",
            "DBDATA_DIR": test.dbdata, "DATABASE_NAME": VerifyTestStore.databaseName, "NPM_SIGNING_KEYS": test.keysFile,
        ].merging(extra) { $1 }
    }

    func verify(_ arguments: [String], _ environment: [String: String], in directory: String) async throws -> (status: Int32, output: String) {
        try await runProgram(builtExecutable("npm-mirror"), ["verify"] + arguments, in: URL(fileURLWithPath: directory), environment: environment)
    }

    @Test("an intact store: exit 0, the summary says everything holds; --json parses with holds true")
    func intactStore() async throws {
        let test = try await VerifyTestStore.standard()
        let environment = try environment(test)
        let human = try await verify([], environment, in: test.directory)
        #expect(human.status == 0, "\(human.output)")
        #expect(human.output.contains("everything holds"))
        #expect(human.output.contains("tarballs        3 hashed"))
        let json = try await verify(["--json"], environment, in: test.directory)
        #expect(json.status == 0, "\(json.output)")
        let report = try JSONValue(parsing: json.output)
        #expect(report["holds"] == .bool(true))
        #expect(report["signatures"]?["verified"]?.intValue == 3)
        #expect(report["records"]?["package_records"]?.intValue == 2)
    }

    @Test("a flipped byte and a deleted tarball: exit 1, both named in the list and in the JSON")
    func brokenStore() async throws {
        let test = try await VerifyTestStore.standard()
        let path = try test.absoluteTarballPath("left-pad", "1.0.0")
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[10] ^= 0x80
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        try FileManager.default.removeItem(atPath: try test.absoluteTarballPath("left-pad", "1.1.0"))
        let environment = try environment(test)

        let human = try await verify([], environment, in: test.directory)
        #expect(human.status == 1, "\(human.output)")
        #expect(human.output.contains("integrity_mismatch: left-pad@1.0.0"))
        #expect(human.output.contains("record_missing_file: left-pad@1.1.0"))

        let json = try await verify(["--json"], environment, in: test.directory)
        #expect(json.status == 1)
        let report = try JSONValue(parsing: json.output)
        let kinds = (report["failures"]?.arrayValue ?? []).compactMap { $0["kind"]?.stringValue }.sorted()
        #expect(kinds == ["integrity_mismatch", "record_missing_file"], "\(json.output)")
    }

    @Test("no store, a malformed keys file: exit 2 with a message naming it")
    func cannotVerify() async throws {
        let test = try await VerifyTestStore.standard()
        let noStore = try await verify([], try environment(test, ["REMOTE_PACKAGE_DIR": test.directory + "/missing"]), in: test.directory)
        #expect(noStore.status == 2)
        try Data("not json".utf8).write(to: URL(fileURLWithPath: test.directory + "/bad-keys.json"))
        let badKeys = try await runProgram(
            builtExecutable("npm-mirror"), ["verify"], in: URL(fileURLWithPath: test.directory),
            environment: try environment(test, ["NPM_SIGNING_KEYS": test.directory + "/bad-keys.json"]), mergingStandardError: true)
        #expect(badKeys.status == 2)
        #expect(badKeys.output.contains("bad-keys.json") && badKeys.output.contains("NPM_SIGNING_KEYS"), "\(badKeys.output)")
    }

    @Test("--packument on pnpm@10.12.4 (real signature, built-in keys): exit 0; --json gives the verdict per version")
    func packumentVerified() async throws {
        let directory = try temporaryDirectory(prefix: "npm-mirror-verify-cli")
        let file = directory + "/pnpm.json"
        try Data(try SignatureFixtures.packument(try SignatureFixtures.vector("valid", "pnpm"))).write(to: URL(fileURLWithPath: file))
        try Data("{}".utf8).write(to: URL(fileURLWithPath: directory + "/config.json"))
        let environment = ["PATH": "/usr/bin:/bin", "CONFIG_FILE": directory + "/config.json"]

        let human = try await verify(["--packument", file], environment, in: directory)
        #expect(human.status == 0, "\(human.output)")
        #expect(human.output.contains("pnpm@10.12.4  verified"))
        let json = try await verify(["--packument", file, "--json"], environment, in: directory)
        #expect(json.status == 0)
        let result = try JSONValue(parsing: json.output)
        #expect(result["versions"]?["10.12.4"]?["signature"] == "verified")
        #expect(result["summary"]?["verified"]?.intValue == 1)
    }

    @Test("--packument with an invalid vector: exit 1; a missing file: exit 2")
    func packumentInvalid() async throws {
        let directory = try temporaryDirectory(prefix: "npm-mirror-verify-cli")
        let file = directory + "/kms.json"
        let forged = try SignatureFixtures.vector("invalid", "kms-demo", why: "not base64")
        try Data(try SignatureFixtures.packument(forged, time: "2023-01-01T00:00:00.000Z")).write(to: URL(fileURLWithPath: file))
        try Data("{}".utf8).write(to: URL(fileURLWithPath: directory + "/config.json"))
        let environment = ["PATH": "/usr/bin:/bin", "CONFIG_FILE": directory + "/config.json"]

        let invalid = try await verify(["--packument", file, "--json"], environment, in: directory)
        #expect(invalid.status == 1, "\(invalid.output)")
        #expect(try JSONValue(parsing: invalid.output)["versions"]?["1.0.0"]?["signature"] == "invalid")
        let missing = try await runProgram(
            builtExecutable("npm-mirror"), ["verify", "--packument", directory + "/absent.json"], in: URL(fileURLWithPath: directory),
            environment: environment, mergingStandardError: true)
        #expect(missing.status == 2)
        #expect(missing.output.contains("absent.json"), "\(missing.output)")
    }
}
