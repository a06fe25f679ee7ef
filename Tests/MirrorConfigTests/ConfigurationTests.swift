import ArgumentParser
import Foundation
import MirrorConfig
import MirrorKafka
import Testing

/// Sources with an in-memory file system: `files` maps paths to contents.
private func sources(
    files: [String: String] = [:],
    environment: [String: String] = [:],
    flags: [Setting: String] = [:]
) -> ConfigurationSources {
    ConfigurationSources(environment: environment, flags: flags) { path in files[path].map { Data($0.utf8) } }
}

@Suite("Configuration: defaults < config.json < environment < flags")
struct ConfigurationPrecedenceTests {
    @Test("with nothing given, every default applies")
    func defaults() throws {
        let configuration = try MirrorConfiguration.load(sources: sources())
        #expect(configuration.kafka.topic == "npm-changes")
        #expect(configuration.kafka.topicPartitions == 12)
        #expect(configuration.kafka.consumerGroup == "npm-mirror")
        #expect(configuration.kafka.brokers == nil)
        #expect(configuration.registry.replicateURL == "https://replicate.npmjs.com")
        #expect(configuration.registry.registryURL == "https://registry.npmjs.org")
        #expect(configuration.storage.updateSeqDirectory == "./update_seq")
        #expect(configuration.storage.maxTarballSize == 10_000_000)
        #expect(configuration.storage.subdirectoryHashLength == 3)
        #expect(configuration.storage.oldPackageVersionsLimit == 3)
        #expect(configuration.records.databaseName == "npm-mirror")
        #expect(configuration.records.couchDBURL == nil)
        #expect(configuration.metricsPort == 0)
        #expect(configuration.lagThreshold == 200)
        #expect(configuration.startSequence == .now)
        #expect(configuration.sources[.kafkaTopic] == .defaultValue)
    }

    @Test("the file overrides defaults, the environment overrides the file, flags override both")
    func precedence() throws {
        let file = #"{"update_seq": 12345, "kafka_topic": "from-file", "lag_threshold": 50, "kafka_topic_num_partitions": 6, "_comment": "ignored"}"#
        let configuration = try MirrorConfiguration.load(
            sources: sources(
                files: ["./config.json": file],
                environment: ["KAFKA_TOPIC": "from-env", "LAG_THRESHOLD": "70"],
                flags: [.kafkaTopic: "from-flag"]
            )
        )
        #expect(configuration.startSequence == .seq(12345))
        #expect(configuration.sources[.updateSeq] == .file(path: "./config.json"))
        #expect(configuration.kafka.topicPartitions == 6)
        #expect(configuration.lagThreshold == 70)
        #expect(configuration.sources[.lagThreshold] == .environment)
        #expect(configuration.kafka.topic == "from-flag")
        #expect(configuration.sources[.kafkaTopic] == .flag)
    }

    @Test("CONFIG_FILE names another file; update_seq accepts \"now\" in any case; trailing slashes go")
    func configFileAndValues() throws {
        let configuration = try MirrorConfiguration.load(
            sources: sources(
                files: ["/etc/mirror.json": #"{"update_seq": "NOW", "npm_registry_url": "http://127.0.0.1:8080/"}"#],
                environment: ["CONFIG_FILE": "/etc/mirror.json", "MAX_SIZE": "200MiB"]
            )
        )
        #expect(configuration.startSequence == .now)
        #expect(configuration.registry.registryURL == "http://127.0.0.1:8080")
        #expect(configuration.storage.maxTarballSize == 200 * 1024 * 1024)
    }

    @Test("an empty value of an optional setting means unset")
    func emptyOptional() throws {
        let configuration = try MirrorConfiguration.load(sources: sources(environment: ["KAFKA_BROKERS": "", "COUCHDB_URL": ""]))
        #expect(configuration.kafka.brokers == nil)
        #expect(configuration.records.couchDBURL == nil)
    }

    @Test("secrets are redacted in the printable summary")
    func secretsRedacted() throws {
        let configuration = try MirrorConfiguration.load(
            sources: sources(environment: ["COUCHDB_PASSWORD": "s3cret-couch", "KAFKA_SASL_PASSWORD": "s3cret-kafka", "COUCHDB_USER": "admin"])
        )
        #expect(configuration.records.couchDBPassword == "s3cret-couch")
        #expect(configuration.kafka.security.saslPassword == "s3cret-kafka")
        let printed = configuration.redactedSummary.map { "\($0.setting.rawValue)=\($0.value)" }.joined(separator: "\n")
        #expect(!printed.contains("s3cret"))
        #expect(printed.contains("COUCHDB_PASSWORD=<redacted>"))
        #expect(printed.contains("COUCHDB_USER=admin"))
    }
}

@Suite("Configuration: every bad value stops start-up naming the key and its source")
struct ConfigurationErrorTests {
    private func loadError(_ sources: ConfigurationSources) -> ConfigurationError? {
        #expect(throws: ConfigurationError.self) { try MirrorConfiguration.load(sources: sources) }
    }

    @Test("non-numeric partitions from the environment")
    func nonNumericPartitions() {
        let error = loadError(sources(environment: ["KAFKA_TOPIC_NUM_PARTITIONS": "twelve"]))
        #expect(error?.setting == .kafkaTopicNumPartitions)
        #expect(error?.source == .environment)
        #expect(error?.description.contains("variable KAFKA_TOPIC_NUM_PARTITIONS") == true)
        #expect(error?.description.contains("\"twelve\"") == true)
    }

    @Test("malformed JSON in config.json names the file")
    func malformedJSON() {
        let error = loadError(sources(files: ["./config.json": #"{"update_seq": 12,"#]))
        #expect(error?.setting == nil)
        #expect(error?.source == .file(path: "./config.json"))
        #expect(error?.description.contains("malformed JSON") == true)
    }

    @Test("an unknown update_seq word names the key and the file")
    func unknownUpdateSeqWord() {
        let error = loadError(sources(files: ["./config.json": #"{"update_seq": "latest"}"#]))
        #expect(error?.setting == .updateSeq)
        #expect(error?.description.contains("key \"update_seq\"") == true)
        #expect(error?.description.contains("./config.json") == true)
        #expect(error?.description.contains("\"now\"") == true)
    }

    @Test(
        "bad values of each kind are refused",
        arguments: [
            (Setting.kafkaTopicNumPartitions, "0"),
            (.kafkaTopicNumPartitions, "-3"),
            (.kafkaReplicationFactor, "0"),
            (.kafkaTopic, "has space"),
            (.kafkaTopic, ".."),
            (.npmReplicateURL, "ftp://example.com"),
            (.npmRegistryURL, "not a url"),
            (.maxSize, "ten megabytes"),
            (.maxSize, "0"),
            (.subdirectoryHashLength, "65"),
            (.oldPackageVersionsLimit, "0"),
            (.metricsPort, "70000"),
            (.lagThreshold, "abc"),
            (.databaseName, "Capital"),
            (.databaseName, "_users"),
            (.logLevel, "loud"),
            (.kafkaSecurityProtocol, "tls"),
            (.updateSeq, "-5"),
            (.couchDBURL, "localhost:5984"),
        ]
    )
    func badValue(setting: Setting, value: String) {
        let error = loadError(sources(environment: [setting.environmentName: value]))
        #expect(error?.setting == setting)
        #expect(error?.source == .environment)
        #expect(error?.description.contains(setting.environmentName) == true)
    }

    @Test("a bad flag is reported as a flag")
    func badFlag() {
        let error = loadError(sources(flags: [.metricsPort: "http"]))
        #expect(error?.source == .flag)
        #expect(error?.description.contains("--metrics-port") == true)
    }

    @Test("an unknown key in config.json (a typo) is refused, listing the known keys")
    func unknownKey() {
        let error = loadError(sources(files: ["./config.json": #"{"kafka_topik": "x"}"#]))
        #expect(error?.description.contains("kafka_topik") == true)
        #expect(error?.description.contains("kafka_topic") == true)
    }

    @Test("a file that is not an object, and a value of the wrong type, are refused")
    func wrongShapes() {
        #expect(loadError(sources(files: ["./config.json": "[1, 2]"]))?.description.contains("JSON object") == true)
        let error = loadError(sources(files: ["./config.json": #"{"kafka_topic": ["a"]}"#]))
        #expect(error?.setting == .kafkaTopic)
    }

    @Test("an explicitly named config file must exist; the default one may be absent")
    func missingFile() throws {
        let error = loadError(sources(environment: ["CONFIG_FILE": "/nowhere/config.json"]))
        #expect(error?.setting == .configFile)
        #expect(error?.description.contains("/nowhere/config.json") == true)
        _ = try MirrorConfiguration.load(sources: sources())
    }

    @Test("a bad secret is reported without its value")
    func secretValueHidden() {
        // No secret has a validation rule that fails today, so use a parse that does: the SASL
        // password is accepted as is. Check instead that a bad non-secret next to it does not leak it.
        let error = loadError(sources(environment: ["KAFKA_SASL_PASSWORD": "p@ss-not-shown", "METRICS_PORT": "x"]))
        #expect(error?.description.contains("p@ss-not-shown") == false)
    }
}

@Suite("Configuration: the flags and the setting table")
struct ConfigurationOptionsTests {
    @Test("every setting but the secrets has a flag, and --help shows env name and default")
    func flagsCoverSettings() throws {
        let options = try ConfigurationOptions.parse(
            ConfigurationOptions.flaggedSettings.flatMap { ["--\($0.flagName)", "v-\($0.flagName)"] }
        )
        #expect(Set(options.givenFlags.keys) == Set(ConfigurationOptions.flaggedSettings))
        for (setting, value) in options.givenFlags {
            #expect(value == "v-\(setting.flagName)")
        }
        let help = ConfigurationOptions.helpMessage(columns: 400)
        for setting in ConfigurationOptions.flaggedSettings {
            #expect(help.contains("--\(setting.flagName)"))
            #expect(help.contains("env \(setting.environmentName)"))
        }
        #expect(help.contains("default: npm-changes"))
    }

    @Test("secrets have no flag (a command line is visible to other users)")
    func secretsHaveNoFlag() {
        #expect(throws: (any Error).self) { try ConfigurationOptions.parse(["--couchdb-password", "x"]) }
    }

    @Test("the checked-in config.json loads")
    func checkedInConfigLoads() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let path = root.appendingPathComponent("config.json").path
        let configuration = try MirrorConfiguration.load(sources: ConfigurationSources(environment: ["CONFIG_FILE": path]))
        #expect(configuration.sources[.updateSeq] == .file(path: path))
    }
}

@Suite("Documentation")
struct ConfigurationDocumentationTests {
    @Test("README.md shows the configuration table exactly as the setting table prints it")
    func readmeTableIsCurrent() throws {
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        #expect(readme.contains(Setting.markdownTable), "run `swift run npm-mirror config --markdown` and paste the table into README.md")
    }
}
