import Foundation
import EmbeddedDemo
import MirrorConfig
import MirrorEmbedded
import MirrorJSON
import MirrorPipeline
import MirrorRecords
import MirrorServe
import MirrorStore
import MirrorTestSupport
import RegistrySimulator
import Testing

/// The real npm CLI, from `PATH` (`scripts/install-deps.sh --test` installs it).
private let npm = executableOnPath("npm")

/// Offline installs end to end: lockfiles written by the real npm CLI against the registry simulator,
/// `npm-mirror check-lockfile` and `npm-mirror pin` run as the built program, the pipeline run in
/// passes (an embedded mirror per pass, resuming from its checkpoints, as `npm-mirror run` does after
/// a restart), and npm installing from `npm-mirror serve`.
@Suite("Offline installs with the real npm CLI: pins and the cooldown", .serialized, .timeLimit(.minutes(10)), .enabled(if: npm != nil, "needs npm on PATH (scripts/install-deps.sh --test installs it)"))
struct OfflineInstallTests {
    /// A mirror's folders and the environment its programs and npm run with.
    struct Rig {
        let work: String
        let root: String
        let configuration: MirrorConfiguration

        var store: PackageStore {
            get throws { try PackageStore(root: root + "/packages", scratch: root + "/temp_packages", shardLength: configuration.storage.subdirectoryHashLength) }
        }

        /// The settings `npm-mirror` reads, as its environment.
        func mirrorEnvironment(_ extra: [String: String] = [:]) -> [String: String] {
            [
                "PATH": "/usr/bin:/bin",
                "REMOTE_PACKAGE_DIR": root + "/packages", "LOCAL_PACKAGE_DIR": root + "/temp_packages",
                "UPDATE_SEQ_DIR": root + "/update_seq", "DBDATA_DIR": root + "/dbdata",
                "SUBDIRECTORY_HASH_LENGTH": "\(configuration.storage.subdirectoryHashLength)",
            ].merging(extra) { $1 }
        }

        /// `npm-mirror ARGUMENTS…`, run in `work` (no config.json there).
        func mirror(_ arguments: [String], _ extra: [String: String] = [:]) async throws -> (status: Int32, output: String) {
            try await runProgram(builtExecutable("npm-mirror"), arguments, in: URL(fileURLWithPath: work), environment: mirrorEnvironment(extra), mergingStandardError: true)
        }

        /// npm in `directory` against `registry`, with its own cache, HOME and user config.
        func npm(_ arguments: [String], in directory: String, registry: String, cache: String) async throws -> (status: Int32, output: String) {
            let npmPath = try #require(OfflineInstallTests.npmPath)
            let home = work + "/home"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            if !FileManager.default.fileExists(atPath: home + "/.npmrc") { try Data().write(to: URL(fileURLWithPath: home + "/.npmrc")) }
            let environment = [
                "PATH": npmPath.deletingLastPathComponent().path + ":/usr/bin:/bin", "HOME": home, "npm_config_cache": work + "/" + cache,
                "npm_config_userconfig": home + "/.npmrc", "npm_config_registry": registry + "/", "npm_config_fund": "false",
                "npm_config_audit": "false", "npm_config_update_notifier": "false", "npm_config_fetch_retries": "0", "npm_config_loglevel": "warn",
            ]
            return try await runProgram(npmPath, arguments, in: URL(fileURLWithPath: directory), environment: environment, mergingStandardError: true)
        }

        /// One pass of the pipeline: pinned packages sent, the feed followed to its head, the consumer
        /// run until idle.
        func pass() async throws {
            let mirror = try EmbeddedMirror(configuration: configuration, consumers: 1, exitWhenCaughtUp: true, exitWhenIdle: .seconds(2), logger: testLogger)
            do {
                try await mirror.producer.pinService.sendPending()
                try await mirror.producer.producerService.run()
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for consumer in mirror.consumers { group.addTask { try await consumer.consumerService.run() } }
                    try await group.waitForAll()
                }
            } catch {
                await mirror.shutdownClients()
                throw error
            }
            await mirror.shutdownClients()
        }

        /// A project folder with a package.json.
        func project(_ name: String) throws -> String {
            let path = work + "/" + name
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            try Data(#"{"name":"offline-client","version":"1.0.0","private":true}"#.utf8).write(to: URL(fileURLWithPath: path + "/package.json"))
            return path
        }

        func record(_ name: String) async throws -> JSONValue? {
            try await SQLiteRecordStore(path: root + "/dbdata/npm-mirror.sqlite").read(id: name)
        }
    }

    static let npmPath = npm

    private static func rig(_ simulator: RegistrySimulator) throws -> Rig {
        let work = try temporaryDirectory()
        let base = try MirrorConfiguration.load(sources: ConfigurationSources(environment: [:]) { _ in nil })
        let root = work + "/mirror"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        return Rig(work: work, root: root, configuration: try MirrorDemo.configuration(base: base, simulator: simulator, directory: root))
    }

    private static func simulatorConfiguration(seed: UInt64) -> RegistrySimulator.Configuration {
        var configuration = RegistrySimulator.Configuration()
        configuration.packages = 30
        configuration.seed = seed
        configuration.resolvableDependencies = true
        return configuration
    }

    /// The verdict `check-lockfile --json` gave `name@version`.
    private static func verdict(_ output: String, _ name: String, _ version: String) throws -> String? {
        let json = try JSONValue(parsing: Array(output.utf8))
        let rows = json.arrayValue?.first?["packages"]?.arrayValue ?? []
        return rows.first { $0["name"]?.stringValue == name && $0["version"]?.stringValue == version }?["verdict"]?.stringValue
    }

    @Test("a pinned lockfile's old version is fetched, kept through later changes, installed by npm ci offline, and pruned once unpinned")
    func pins() async throws {
        try await withRegistrySimulator(configuration: Self.simulatorConfiguration(seed: 21), logger: testLogger) { simulator in
            let rig = try Self.rig(simulator)
            try await rig.pass()
            let store = try rig.store

            // A package with an old version outside the newest three the mirror keeps.
            var chosen: (name: String, version: String)?
            for name in simulator.packageNames.sorted() where !name.hasPrefix("@") {
                guard let bytes = try store.readPackument(name: name), let packument = try? JSONValue(parsing: bytes),
                    let versions = packument["versions"]?.objectValue, versions.count >= 5,
                    let oldest = versions.keys.min(by: { (packument["time"]?[$0]?.stringValue ?? "") < (packument["time"]?[$1]?.stringValue ?? "") }),
                    !store.hasTarball(name: name, version: oldest)
                else { continue }
                chosen = (name, oldest)
                break
            }
            let (name, old) = try #require(chosen, "no package with an old version the mirror does not hold")

            // The lockfile, written by npm against the registry (the simulator).
            let project = try rig.project("project")
            let lock = try await rig.npm(["install", "--package-lock-only", "\(name)@\(old)"], in: project, registry: simulator.registryURL, cache: "cache-lock")
            #expect(lock.status == 0, "npm install --package-lock-only: \(lock.output)")
            let lockfile = project + "/package-lock.json"

            let before = try await rig.mirror(["check-lockfile", "--json", lockfile])
            #expect(before.status == 1, "\(before.output)")
            #expect(try Self.verdict(before.output, name, old) == "tarball_missing", "\(before.output.prefix(2000))")

            // The same question in every lockfile format: npm's three (written by npm, with an alias of
            // a scoped package and a file: dependency), and pnpm's and yarn's written from npm's.
            let scoped = try #require(simulator.packageNames.sorted().first { $0.hasPrefix("@") })
            let formats = try await Self.lockfiles(rig, name: name, version: old, scoped: scoped, registry: simulator.registryURL, npmLockfile: lockfile)
            for file in formats {
                let check = try await rig.mirror(["check-lockfile", "--json", "--all", file])
                #expect(check.status == 1, "\(file): \(check.output.prefix(2000))")
                let rows = try JSONValue(parsing: Array(check.output.utf8)).arrayValue?.first?["packages"]?.arrayValue ?? []
                #expect(rows.contains { $0["name"]?.stringValue == name && $0["version"]?.stringValue == old && $0["verdict"]?.stringValue == "tarball_missing" }, "\(file): \(check.output.prefix(2000))")
                #expect(rows.contains { $0["name"]?.stringValue == scoped && $0["verdict"]?.stringValue == "served" }, "\(file): \(check.output.prefix(2000))")
                if file.contains("/npm-v") {
                    #expect(rows.contains { $0["name"]?.stringValue == "local-lib" && $0["verdict"]?.stringValue == "not_registry" }, "\(file): \(check.output.prefix(2000))")
                }
            }
            // A lockfile whose integrity for the scoped package is not the tarball's.
            let tampered = rig.work + "/tampered-package-lock.json"
            var tamperedText = try String(contentsOfFile: formats[2], encoding: .utf8)
            let scopedIntegrity = try #require(Self.integrities(formats[2])[scoped])
            tamperedText = tamperedText.replacingOccurrences(of: scopedIntegrity, with: "sha512-" + Data(repeating: 7, count: 64).base64EncodedString())
            try tamperedText.write(toFile: tampered, atomically: true, encoding: .utf8)
            let mismatch = try await rig.mirror(["check-lockfile", "--json", tampered])
            #expect(try Self.verdict(mismatch.output, scoped, Self.versions(formats[2])[scoped] ?? "") == "integrity_mismatch", "\(mismatch.output.prefix(2000))")

            let pin = try await rig.mirror(["pin", lockfile])
            #expect(pin.status == 0, "npm-mirror pin: \(pin.output)")
            let list = try await rig.mirror(["pin", "--list"])
            #expect(list.output.contains("package-lock.json-"), "\(list.output)")

            try await rig.pass()
            #expect(store.hasTarball(name: name, version: old), "the pinned version was not fetched")
            let record = try #require(try await rig.record(name))
            #expect(record["pinned_versions"]?[old]?.arrayValue?.first?.stringValue?.hasPrefix("package-lock.json-") == true, "\(record)")
            let after = try await rig.mirror(["check-lockfile", lockfile])
            #expect(after.status == 0, "check-lockfile after the pin: \(after.output)")
            for file in formats {
                let check = try await rig.mirror(["check-lockfile", file])
                #expect(check.status == 0, "\(file) after the pin: \(check.output)")
            }

            // A later change of the package does not prune the pinned version.
            #expect(try simulator.publish(.newVersion(of: name)) != nil)
            try await rig.pass()
            #expect(store.hasTarball(name: name, version: old), "a later change pruned the pinned version")

            // npm ci from the lockfile against serve, with the registry's host replaced by the mirror's:
            // the simulator sees no request while it runs.
            let fresh = try rig.project("fresh")
            try FileManager.default.removeItem(atPath: fresh + "/package.json")
            for file in ["package.json", "package-lock.json"] { try FileManager.default.copyItem(atPath: project + "/" + file, toPath: fresh + "/" + file) }
            let requestsBefore = simulator.requestTotal
            let testStore = try TestStore(root: rig.root + "/packages", scratch: rig.root + "/temp_packages", shardLength: rig.configuration.storage.subdirectoryHashLength)
            try await withServer(store: testStore) { server in
                let ci = try await rig.npm(["ci", "--replace-registry-host=always"], in: fresh, registry: "http://127.0.0.1:\(server.port)", cache: "cache-ci")
                #expect(ci.status == 0, "npm ci: \(ci.output)")
            }
            #expect(simulator.requestTotal == requestsBefore, "npm ci reached the registry")
            let installed = try JSONValue(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: fresh + "/node_modules/" + name + "/package.json"))))
            #expect(installed["version"]?.stringValue == old)

            // Unpinned: the next change prunes it.
            let remove = try await rig.mirror(["pin", "--remove", lockfile])
            #expect(remove.status == 0, "npm-mirror pin --remove: \(remove.output)")
            #expect(try simulator.publish(.newVersion(of: name)) != nil)
            try await rig.pass()
            #expect(!store.hasTarball(name: name, version: old), "the unpinned version was kept")
        }
    }

    /// The registry packages of an npm v2/v3 lockfile: name → integrity, and name → version (the
    /// top-level copy).
    private static func integrities(_ path: String) throws -> [String: String] {
        try entries(path).compactMapValues { $0["integrity"]?.stringValue }
    }

    private static func versions(_ path: String) throws -> [String: String] {
        try entries(path).compactMapValues { $0["version"]?.stringValue }
    }

    private static func entries(_ path: String) throws -> [String: JSONValue] {
        let lock = try JSONValue(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        var found: [String: JSONValue] = [:]
        for (key, entry) in lock["packages"]?.objectValue ?? [:] where key.hasPrefix("node_modules/") && entry["resolved"]?.stringValue?.hasPrefix("http") == true {
            let name = entry["name"]?.stringValue ?? String(key.components(separatedBy: "node_modules/").last!)
            if found[name] == nil || !key.dropFirst("node_modules/".count).contains("node_modules/") { found[name] = entry }
        }
        return found
    }

    /// npm's lockfiles v1, v2 and v3 for `name@version`, an alias of `scoped` and a `file:` package,
    /// written by npm against the registry; and pnpm v9, yarn classic and yarn berry lockfiles naming
    /// the registry packages of npm's v3 file. Returns their paths: v1, v2, v3, pnpm, yarn, berry.
    private static func lockfiles(_ rig: Rig, name: String, version: String, scoped: String, registry: String, npmLockfile: String) async throws -> [String] {
        let local = rig.work + "/local-lib"
        try FileManager.default.createDirectory(atPath: local, withIntermediateDirectories: true)
        try Data(#"{"name":"local-lib","version":"1.0.0"}"#.utf8).write(to: URL(fileURLWithPath: local + "/package.json"))
        var paths: [String] = []
        for lockfileVersion in 1...3 {
            let project = try rig.project("npm-v\(lockfileVersion)")
            let result = try await rig.npm(
                ["install", "--package-lock-only", "--lockfile-version", "\(lockfileVersion)", "\(name)@\(version)", "scoped-alias@npm:\(scoped)", "file:../local-lib"],
                in: project, registry: registry, cache: "cache-lock")
            #expect(result.status == 0, "npm install --lockfile-version \(lockfileVersion): \(result.output)")
            paths.append(project + "/package-lock.json")
        }
        let packages = try entries(paths[2]).sorted { $0.key < $1.key }
        var pnpm = "lockfileVersion: '9.0'\n\nsettings:\n  autoInstallPeers: true\n  excludeLinksFromLockfile: false\n\nimporters:\n\n  .:\n    dependencies:\n"
        pnpm += "      \(name):\n        specifier: \(version)\n        version: \(version)\n"
        pnpm += "      local-lib:\n        specifier: link:../local-lib\n        version: link:../local-lib\n\npackages:\n\n"
        var yarn = "# THIS IS AN AUTOGENERATED FILE. DO NOT EDIT THIS FILE DIRECTLY.\n# yarn lockfile v1\n\n\n"
        var berry = "# This file is generated by running \"yarn install\" inside your project.\n# Manual changes might be lost - proceed with caution!\n\n__metadata:\n  version: 8\n  cacheKey: 10c0\n\n"
        for (package, entry) in packages {
            let packageVersion = entry["version"]?.stringValue ?? ""
            let integrity = entry["integrity"]?.stringValue ?? ""
            let resolved = entry["resolved"]?.stringValue ?? ""
            pnpm += "  '\(package)@\(packageVersion)':\n    resolution: {integrity: \(integrity)}\n\n"
            yarn += "\"\(package)@\(packageVersion)\":\n  version \"\(packageVersion)\"\n  resolved \"\(resolved)\"\n  integrity \(integrity)\n\n"
            berry += "\"\(package)@npm:\(packageVersion)\":\n  version: \(packageVersion)\n  resolution: \"\(package)@npm:\(packageVersion)\"\n  checksum: 10c0/\(String(repeating: "ab", count: 64))\n  languageName: node\n  linkType: hard\n\n"
        }
        berry += "\"app@workspace:.\":\n  version: 0.0.0-use.local\n  resolution: \"app@workspace:.\"\n  languageName: unknown\n  linkType: soft\n"
        for (file, text) in [("pnpm-lock.yaml", pnpm), ("yarn.lock", yarn), ("berry/yarn.lock", berry)] {
            let path = rig.work + "/hand/" + file
            try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            try text.write(toFile: path, atomically: true, encoding: .utf8)
            paths.append(path)
        }
        return paths
    }

    @Test("with SERVE_MIN_AGE npm installs the older version and sees the tags moved; check-lockfile names it; without, the new one")
    func cooldown() async throws {
        try await withRegistrySimulator(configuration: Self.simulatorConfiguration(seed: 22), logger: testLogger) { simulator in
            let rig = try Self.rig(simulator)
            try await rig.pass()
            let store = try rig.store
            let name = try #require(simulator.packageNames.sorted().first { name in
                !name.hasPrefix("@") && (try? store.readPackument(name: name)).flatMap { $0 }.flatMap { try? JSONValue(parsing: $0) }?["dist-tags"]?["latest"] != nil
            })
            let published = try #require(try simulator.publish(.newVersion(of: name)))
            try await rig.pass()
            let packument = try JSONValue(parsing: try #require(try store.readPackument(name: name)))
            let newest = try #require(packument["dist-tags"]?["latest"]?.stringValue)
            #expect(store.hasTarball(name: name, version: newest), "the new version \(newest) (\(published)) was not collected")

            // A lockfile naming the new version, written by npm against the registry.
            let project = try rig.project("locked")
            let lock = try await rig.npm(["install", "--package-lock-only", "\(name)@\(newest)"], in: project, registry: simulator.registryURL, cache: "cache-lock")
            #expect(lock.status == 0, "\(lock.output)")
            let check = try await rig.mirror(["check-lockfile", "--json", project + "/package-lock.json"], ["SERVE_MIN_AGE": "7d"])
            #expect(check.status == 1, "\(check.output)")
            #expect(try Self.verdict(check.output, name, newest) == "held_back", "\(check.output.prefix(2000))")
            let open = try await rig.mirror(["check-lockfile", project + "/package-lock.json"])
            #expect(open.status == 0, "\(open.output)")

            let testStore = try TestStore(root: rig.root + "/packages", scratch: rig.root + "/temp_packages", shardLength: rig.configuration.storage.subdirectoryHashLength)
            let older: String? = try await withServer(store: testStore, { $0.minimumAge = .seconds(7 * 86_400) }) { server in
                let registry = "http://127.0.0.1:\(server.port)"
                let view = try await rig.npm(["view", name, "dist-tags", "--json"], in: rig.work, registry: registry, cache: "cache-cool")
                #expect(view.status == 0, "\(view.output)")
                let tags = try JSONValue(parsing: Array(view.output.utf8))
                let older = tags["latest"]?.stringValue
                #expect(older != nil && older != newest, "npm view: \(view.output)")
                let install = try await rig.npm(["install", name], in: try rig.project("cool"), registry: registry, cache: "cache-cool")
                #expect(install.status == 0, "\(install.output)")
                return older
            }
            let cool = try JSONValue(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: rig.work + "/cool/node_modules/" + name + "/package.json"))))
            #expect(cool["version"]?.stringValue == older)

            try await withServer(store: testStore) { server in
                let install = try await rig.npm(["install", name], in: try rig.project("open"), registry: "http://127.0.0.1:\(server.port)", cache: "cache-open")
                #expect(install.status == 0, "\(install.output)")
            }
            let opened = try JSONValue(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: rig.work + "/open/node_modules/" + name + "/package.json"))))
            #expect(opened["version"]?.stringValue == newest)
        }
    }
}
