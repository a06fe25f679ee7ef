import Foundation
import MirrorConfig
import MirrorHarness
import MirrorKafka
import MirrorPipeline
import MirrorStore
import NPMRegistry
import RegistrySimulator

extension Suite {
    /// Hostile package names through the real store, and hostile JSON through every parser the
    /// pipeline runs on what it reads: a clear error each time, nothing written outside the store,
    /// no two names on one folder.
    func hostileInput() async throws -> String {
        let root = "\(workDirectory)/hostile-input"
        let store = try PackageStore(root: "\(root)/packages", scratch: "\(root)/scratch", shardLength: 3)
        var names = [
            "../x", "..%2fx", "..%2Fx", "/etc/passwd", "/", ".", "..", "@scope/../x", "@scope/..", "@../x", "a/../../b",
            "x\u{0}y", "x\ny", "x\ty", "\u{7f}", "x\u{1b}[31m", String(repeating: "a", count: 5000), "C:\\windows", "a\\..\\b",
            "Foo", "foo", "FOO", "caf\u{e9}", "cafe\u{301}", "\u{212b}", "\u{c5}", "@Scope/x", "@scope/x", " x", "x ",
            "%2e%2e", "~", "-", "node_modules", ".git", "con", "aux.js",
        ]
        names += (0..<20).map { "@s\($0)/../../escape-\($0)" }
        var directories: [String: String] = [:]
        var refused = 0
        for name in names {
            let document = Array(#"{"name":"x","_rev":"1-a","versions":{}}"#.utf8)
            do {
                _ = try store.storePackument(name: name, rev: "1-a", json: document)
            } catch {
                refused += 1
                continue
            }
            let directory = URL(fileURLWithPath: store.absolutePackageDirectory(for: name)).standardizedFileURL.path
            guard directory.hasPrefix(URL(fileURLWithPath: store.root).standardizedFileURL.path + "/") else {
                tally.update { $0.filesOutside += 1 }
                throw ChaosError("the name \(name.debugDescription) maps outside the store: \(directory)")
            }
            if let other = directories[directory] {
                throw ChaosError("\(name.debugDescription) and \(other.debugDescription) share the folder \(directory)")
            }
            directories[directory] = name
        }
        // Nothing may have appeared beside the store's own folders.
        let outside = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).filter { $0 != "packages" && $0 != "scratch" }
        // Each scenario's rigs are named after it (`registry-liveness`, `registry-liveness-baseline`).
        let escaped = ((try? FileManager.default.contentsOfDirectory(atPath: workDirectory)) ?? []).filter { entry in
            !Suite.names.contains { entry == $0 || entry.hasPrefix($0 + "-") }
        }
        tally.update { $0.filesOutside += outside.count + escaped.count }
        guard outside.isEmpty, escaped.isEmpty else { throw ChaosError("files outside the store: \(outside + escaped)") }

        // JSON: each must be refused with an error, none may crash the process.
        let nested = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        let deepObject = String(repeating: #"{"a":"#, count: 50_000) + "1" + String(repeating: "}", count: 50_000)
        let hugeString = #"{"name":""# + String(repeating: "x", count: 20 << 20) + #""}"#
        let packuments: [String] = [
            "", "null", "[]", "42", "\"x\"", "{", nested, deepObject, hugeString, "\u{feff}{}",
            #"{"name":5}"#, #"{"name":"other"}"#, #"{"name":"x","versions":[]}"#, #"{"name":"x","versions":{"1.0.0":"no"}}"#,
            #"{"name":"x","versions":{"1.0.0":{"dist":5}}}"#, #"{"name":"x","versions":{"1.0.0":{"dist":{"tarball":7,"integrity":[]}}}}"#,
            #"{"name":"x","time":"yesterday"}"#, #"{"name":"x","time":{"1.0.0":5}}"#, #"{"name":"x","dist-tags":["latest"]}"#,
            #"{"name":"x","dist-tags":{"latest":{}}}"#, #"{"name":"x","_rev":5}"#, #"{"name":"x","name":"y"}"#,
            #"{"name":"x","versions":{"1.0.0":{"dist":{"tarball":"../../etc/passwd","integrity":"sha512-!!"}}}}"#,
            "{\"name\":\"x\u{0}\"}", #"{"name":"x","maintainers":"me"}"#,
        ]
        var parsedAnyway = 0
        let registryURL = "http://registry.invalid"
        for text in packuments {
            guard let packument = try? Packument.parse(Array(text.utf8), expectedName: "x") else { continue }
            // What a lenient parse lets through must still be stopped by the next step: every tarball
            // URL stays on the registry, and an unusable integrity is refused before any download.
            for version in packument.versions.values {
                if !Packument.tarballURL(name: packument.name, version: version, registryURL: registryURL).hasPrefix(registryURL + "/") { parsedAnyway += 1 }
                if (try? ExpectedDigest(integrity: version.integrity, shasum: version.shasum)) != nil { parsedAnyway += 1 }
            }
        }
        let pages = ["", "{}", #"{"results":5}"#, #"{"results":[{"seq":"x","id":5}],"last_seq":"y"}"#, nested, #"{"results":[null,1,"a"],"last_seq":3}"#]
        for text in pages { _ = try? ChangesPage.parse(Array(text.utf8), since: 0) }
        let messages = ["", "{}", #"{"seq":"1","id":"x"}"#, #"{"seq":1}"#, nested, "\u{0}"]
        for text in messages { _ = try? ChangeMessage.decode(Array(text.utf8)) }
        let tried = names.count + packuments.count + pages.count + messages.count
        tally.update { $0.badInputs += tried }
        guard parsedAnyway == 0 else { throw ChaosError("a hostile version got past the checks: a tarball URL off the registry, or an unusable integrity accepted") }
        return "\(names.count) hostile names (\(refused) refused, the rest in \(directories.count) distinct folders inside the store), \(packuments.count + pages.count + messages.count) hostile JSON documents refused or read safely"
    }

    /// Passwords never appear in logs, metrics files or events, even when they are wrong and every
    /// request fails.
    func secrets() async throws -> String {
        var configuration = RegistrySimulator.Configuration()
        configuration.packages = 20
        configuration.seed = seed
        return try await withRegistrySimulator(configuration: configuration) { simulator in
            let couchSecret = "couch-S3cret-\(UUID().uuidString.prefix(8))"
            let saslSecret = "sasl-S3cret-\(UUID().uuidString.prefix(8))"
            let keySecret = "key-S3cret-\(UUID().uuidString.prefix(8))"
            let rig = try Rig(
                name: "secrets", directory: "\(workDirectory)/secrets", binaries: binaries, simulator: simulator, kafka: kafka, couch: couch,
                extraSettings: [.couchDBPassword: couchSecret, .logLevel: "trace"], logger: logger
            )
            try await rig.produceToEnd()
            // A wrong CouchDB password: every write answers 401, logged at every level up to trace.
            let consumer = try await rig.startConsumer(settings: [.metricsFile: "\(rig.directory)/logs/consumer.prom"])
            try await Task.sleep(for: .seconds(8))
            consumer.send(SIGTERM)
            _ = try await consumer.wait(timeout: .seconds(60))
            // SASL to a broker that does not speak it, and an SSL key password: the client fails to connect or start.
            let sasl = try await rig.startConsumer(exitWhenIdle: 1, settings: [
                .kafkaSecurityProtocol: "sasl_plaintext", .kafkaSASLMechanism: "PLAIN", .kafkaSASLUsername: "mirror",
                .kafkaSASLPassword: saslSecret, .kafkaSSLKeyPassword: keySecret,
            ])
            try await Task.sleep(for: .seconds(5))
            sasl.send(SIGTERM)
            _ = try await sasl.wait(timeout: .seconds(60))

            var texts: [(String, String)] = []
            for file in (try? FileManager.default.contentsOfDirectory(atPath: "\(rig.directory)/logs")) ?? [] {
                texts.append((file, (try? String(contentsOfFile: "\(rig.directory)/logs/\(file)", encoding: .utf8)) ?? ""))
            }
            for topic in [rig.eventsTopic, rig.deadLetterTopic] {
                let messages = try await TopicReader.readAll(topic, bootstrapServers: kafka.bootstrapServers, logger: logger)
                texts.append((topic, messages.map { String(decoding: $0.value, as: UTF8.self) }.joined(separator: "\n")))
            }
            let log = texts.first { $0.0 == "consumer.log" }?.1 ?? ""
            guard log.contains("401") || log.localizedCaseInsensitiveContains("unauthorized") || log.contains("credentials") else {
                throw ChaosError("the consumer never reported the refused credentials (see \(rig.directory)/logs/consumer.log)")
            }
            let leaks = texts.filter { _, text in [couchSecret, saslSecret, keySecret].contains { text.contains($0) } }.map(\.0)
            tally.update { $0.secretLeaks += leaks.count }
            guard leaks.isEmpty else { throw ChaosError("a password appears in \(leaks)") }
            let bytes = texts.reduce(0) { $0 + $1.1.utf8.count }
            return "3 passwords (CouchDB, SASL, SSL key), wrong on purpose, absent from \(texts.count) logs, metrics files and topics (\(bytes / 1000) kB, trace level)"
        }
    }
}
