import Dispatch
import Foundation
import EmbeddedDemo
import MirrorConfig
import MirrorEmbedded
import MirrorRecords
import MirrorServe
import MirrorStore
import MirrorTestSupport
import RegistrySimulator
import Testing

/// The real npm CLI, from `PATH` (`scripts/install-deps.sh --test` installs it).
private let npm = executableOnPath("npm")

/// Runs npm to its end and returns its status and its standard output and error, merged.
private func run(_ arguments: [String], in directory: String, environment: [String: String]) async throws -> (status: Int32, output: String) {
    let npm = try #require(npm)
    return try await runProgram(npm, arguments, in: URL(fileURLWithPath: directory), environment: environment, mergingStandardError: true)
}

/// The real npm CLI against `npm-mirror serve`, over a store filled by the real pipeline from the
/// registry simulator, with no other registry reachable: the simulator is stopped before npm runs,
/// and npm's cache, user config and HOME are fresh folders.
@Suite("npm-mirror serve with the real npm CLI", .serialized, .timeLimit(.minutes(10)), .enabled(if: npm != nil, "needs npm on PATH (scripts/install-deps.sh --test installs it)"))
struct NPMClientTests {
    @Test("npm install, npm ci, view, ping, search from the mirror; npm audit fails with the mirror's message")
    func npmAgainstTheMirror() async throws {
        let work = try temporaryDirectory()
        let demo = work + "/mirror"
        var base = try MirrorConfiguration.load(sources: ConfigurationSources(environment: [:]) { _ in nil })
        // The 6 MB newest tarball of the large-tarball package is not kept, so its `latest` moves down.
        base.storage.maxTarballSize = 5 << 20
        _ = try await MirrorDemo.run(base: base, directory: demo, packages: 40, seed: 11, configureSimulator: { $0.resolvableDependencies = true }, logger: testLogger)

        let records = try SQLiteRecordStore(path: demo + "/dbdata/npm-mirror.sqlite")
        let packages = try await records.readAll(limit: 10_000).filter(\.isLivePackage)
        let store = try TestStore(root: demo + "/packages", scratch: demo + "/temp_packages", shardLength: base.storage.subdirectoryHashLength)
        try await withServer(store: store, records: records) { server in
            let registry = "http://127.0.0.1:\(server.port)"
            func abbreviated(_ name: String) async throws -> JSONValue {
                let response = try await server.get("/" + name.replacingOccurrences(of: "/", with: "%2f"), [("Accept", "application/vnd.npm.install-v1+json")])
                #expect(response.status == 200, "\(name)")
                return try response.json()
            }
            // What to install: a scoped package, one whose newest version the mirror does not keep,
            // and ordinary ones with dependencies.
            let scoped = try #require(packages.first { $0.id.hasPrefix("@") && ($0.body["skipped_versions"]?.objectValue ?? [:]).isEmpty }?.id)
            let trimmed = try #require(packages.first { ($0.body["skipped_versions"]?.objectValue ?? [:]).values.contains { $0.stringValue?.contains("size") == true || $0.stringValue?.contains("large") == true } }?.id,
                "no package with a version skipped as too large")
            var withDependencies: [String] = []
            for record in packages where !record.id.hasPrefix("@") && record.id != trimmed && withDependencies.count < 3 {
                let document = try await abbreviated(record.id)
                guard let latest = document["dist-tags"]?["latest"]?.stringValue,
                    let dependencies = document["versions"]?[latest]?["dependencies"]?.objectValue, !dependencies.isEmpty
                else { continue }
                withDependencies.append(record.id)
            }
            #expect(withDependencies.count == 3)
            let wanted = [scoped, trimmed] + withDependencies
            let trimmedDocument = try await abbreviated(trimmed)
            let trimmedRegistryLatest = try #require(packages.first { $0.id == trimmed }?.body["latest_version"]?.stringValue)
            #expect(trimmedDocument["dist-tags"]?["latest"]?.stringValue != trimmedRegistryLatest, "the unheld latest must not be served")

            // Deprecations survive into the served documents, version by version.
            var deprecated = 0
            for record in packages {
                let served = try await abbreviated(record.id)
                let stored = try JSONValue(parsing: try #require(try store.store.readPackument(name: record.id)))
                for (version, document) in served["versions"]?.objectValue ?? [:] {
                    #expect(document["deprecated"] == stored["versions"]?[version]?["deprecated"], "\(record.id)@\(version)")
                    if document["deprecated"] != nil { deprecated += 1 }
                }
            }
            #expect(deprecated > 0, "the generated registry has deprecated versions among those held")

            let home = work + "/home"
            try FileManager.default.createDirectory(atPath: home, withIntermediateDirectories: true)
            try Data().write(to: URL(fileURLWithPath: home + "/.npmrc"))
            func environment(cache: String) -> [String: String] {
                [
                    "PATH": (npm.map { $0.deletingLastPathComponent().path + ":" } ?? "") + "/usr/bin:/bin", "HOME": home, "npm_config_cache": cache, "npm_config_userconfig": home + "/.npmrc",
                    "npm_config_registry": registry + "/", "npm_config_fund": "false", "npm_config_update_notifier": "false",
                    "npm_config_fetch_retries": "0", "npm_config_loglevel": "warn",
                ]
            }
            let project = work + "/project"
            try FileManager.default.createDirectory(atPath: project, withIntermediateDirectories: true)
            try Data(#"{"name":"mirror-client","version":"1.0.0","private":true}"#.utf8).write(to: URL(fileURLWithPath: project + "/package.json"))

            let install = try await run(["install", "--registry", registry + "/"] + wanted, in: project, environment: environment(cache: work + "/cache1"))
            #expect(install.status == 0, "npm install: \(install.output)")

            // The lockfile: every package resolved from the mirror, at a version the mirror serves;
            // the top-level ones at the served latest, dependencies at the served version the range picks.
            let lock = try JSONValue(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: project + "/package-lock.json"))))
            let entries = try #require(lock["packages"]?.objectValue)
            var installed = 0
            for (path, entry) in entries where path.hasPrefix("node_modules/") {
                installed += 1
                let name = String(path.dropFirst("node_modules/".count).components(separatedBy: "/node_modules/").last!)
                let resolved = try #require(entry["resolved"]?.stringValue, "\(path)")
                #expect(resolved.hasPrefix(registry + "/"), "\(path): \(resolved)")
                #expect(entry["integrity"]?.stringValue?.hasPrefix("sha") == true, "\(path)")
                let version = try #require(entry["version"]?.stringValue)
                let document = try await abbreviated(name)
                #expect(document["versions"]?[version] != nil, "\(name)@\(version) is not served")
                #expect(document["dist-tags"]?["latest"]?.stringValue == version, "\(name): installed \(version), served latest \(document["dist-tags"]?["latest"] ?? nil)")
                let onDisk = try JSONValue(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: project + "/" + path + "/package.json"))))
                #expect(onDisk["version"]?.stringValue == version, "\(path)")
            }
            #expect(installed > wanted.count, "the dependency trees were installed too (\(installed) packages)")

            // npm ci from the lockfile, in a fresh folder with a fresh cache.
            let fresh = work + "/fresh"
            try FileManager.default.createDirectory(atPath: fresh, withIntermediateDirectories: true)
            for file in ["package.json", "package-lock.json"] {
                try FileManager.default.copyItem(atPath: project + "/" + file, toPath: fresh + "/" + file)
            }
            let ci = try await run(["ci"], in: fresh, environment: environment(cache: work + "/cache2"))
            #expect(ci.status == 0, "npm ci: \(ci.output)")
            for name in wanted {
                #expect(FileManager.default.fileExists(atPath: fresh + "/node_modules/" + name + "/package.json"), "\(name) after npm ci")
            }

            let view = try await run(["view", scoped, "version"], in: project, environment: environment(cache: work + "/cache1"))
            #expect(view.status == 0, "npm view: \(view.output)")
            #expect(view.output.trimmingCharacters(in: .whitespacesAndNewlines) == (try await abbreviated(scoped))["dist-tags"]?["latest"]?.stringValue)

            let ping = try await run(["ping", "--loglevel", "notice"], in: project, environment: environment(cache: work + "/cache1"))
            #expect(ping.status == 0, "npm ping: \(ping.output)")
            #expect(ping.output.contains("PONG"))

            let word = String(withDependencies[0].split(separator: "-").first ?? "")
            let search = try await run(["search", "--json", word], in: project, environment: environment(cache: work + "/cache1"))
            #expect(search.status == 0, "npm search: \(search.output)")
            let results = try JSONValue(parsing: Array(search.output.utf8)).arrayValue ?? []
            #expect(results.contains { $0["name"]?.stringValue == withDependencies[0] }, "npm search \(word): \(search.output.prefix(500))")

            let audit = try await run(["audit"], in: project, environment: environment(cache: work + "/cache1"))
            #expect(audit.status != 0, "npm audit must fail: \(audit.output)")
            #expect(audit.output.contains("audit endpoint returned an error") || audit.output.contains("no security advisory data"), "npm audit: \(audit.output)")
            #expect(!audit.output.contains("found 0 vulnerabilities"))
            print("npm install: \(installed) packages from \(registry); npm audit said: \(audit.output.prefix(300))")
        }
    }
}
