import Foundation

/// The raw inputs of a configuration: the environment, the command-line flags that were given,
/// and the file system (to read `config.json`).
public struct ConfigurationSources: Sendable {
    public var environment: [String: String]
    /// Flags given on the command line, by setting.
    public var flags: [Setting: String]
    /// Reads a file; nil when it does not exist. Replaced in tests.
    public var readFile: @Sendable (String) throws -> Data?

    public init(
        environment: [String: String] = ProcessInfo.processInfo.environment,
        flags: [Setting: String] = [:],
        readFile: @escaping @Sendable (String) throws -> Data? = ConfigurationSources.readFileIfPresent
    ) {
        self.environment = environment
        self.flags = flags
        self.readFile = readFile
    }

    public static let readFileIfPresent: @Sendable (String) throws -> Data? = { path in
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        return try Data(contentsOf: URL(fileURLWithPath: path))
    }
}

extension MirrorConfiguration {
    /// Resolves every setting: default < `config.json` < environment < flags, then checks each value.
    /// Throws a ``ConfigurationError`` naming the setting and the source of the first bad value.
    public static func load(sources: ConfigurationSources) throws -> MirrorConfiguration {
        var resolver = try Resolver(sources: sources)
        let configuration = try MirrorConfiguration(
            startSequence: resolver.value(.updateSeq, Parse.startSequence),
            kafka: Kafka(
                brokers: resolver.optional(.kafkaBrokers, Parse.nonEmpty),
                topic: resolver.value(.kafkaTopic, Parse.topicName),
                topicPartitions: resolver.value(.kafkaTopicNumPartitions, Parse.integer(in: 1...10_000)),
                replicationFactor: resolver.value(.kafkaReplicationFactor, Parse.replicationFactor),
                consumerGroup: resolver.value(.kafkaConsumerGroup, Parse.nonEmpty),
                deadLetterTopic: resolver.value(.kafkaDeadLetterTopic, Parse.topicName),
                eventsTopic: resolver.value(.kafkaEventsTopic, Parse.topicName),
                security: KafkaSecurity(
                    securityProtocol: resolver.optional(.kafkaSecurityProtocol, Parse.oneOf(["plaintext", "ssl", "sasl_plaintext", "sasl_ssl"])),
                    saslMechanism: resolver.optional(.kafkaSASLMechanism, Parse.nonEmpty),
                    saslUsername: resolver.optional(.kafkaSASLUsername, Parse.nonEmpty),
                    saslPassword: resolver.optional(.kafkaSASLPassword, Parse.any),
                    sslCALocation: resolver.optional(.kafkaSSLCALocation, Parse.nonEmpty),
                    sslCertificateLocation: resolver.optional(.kafkaSSLCertificateLocation, Parse.nonEmpty),
                    sslKeyLocation: resolver.optional(.kafkaSSLKeyLocation, Parse.nonEmpty),
                    sslKeyPassword: resolver.optional(.kafkaSSLKeyPassword, Parse.any)
                )
            ),
            registry: Registry(
                replicateURL: resolver.value(.npmReplicateURL, Parse.httpURL),
                registryURL: resolver.value(.npmRegistryURL, Parse.httpURL)
            ),
            storage: Storage(
                updateSeqDirectory: resolver.value(.updateSeqDir, Parse.nonEmpty),
                localPackageDirectory: resolver.value(.localPackageDir, Parse.nonEmpty),
                remotePackageDirectory: resolver.value(.remotePackageDir, Parse.nonEmpty),
                maxTarballSize: resolver.value(.maxSize, Parse.byteSize),
                subdirectoryHashLength: resolver.value(.subdirectoryHashLength, Parse.integer(in: 1...64)),
                oldPackageVersionsLimit: resolver.value(.oldPackageVersionsLimit, Parse.integer(in: 1...1_000_000)),
                sync: resolver.value(.storeSync, Parse.storeSync),
                pinDirectory: resolver.optional(.pinDirectory, Parse.nonEmpty)
            ),
            records: Records(
                couchDBURL: resolver.optional(.couchDBURL, Parse.httpURL),
                couchDBUser: resolver.optional(.couchDBUser, Parse.nonEmpty),
                couchDBPassword: resolver.optional(.couchDBPassword, Parse.any),
                databaseName: resolver.value(.databaseName, Parse.couchDBDatabaseName),
                dbdataDirectory: resolver.value(.dbdataDir, Parse.nonEmpty)
            ),
            metricsPort: resolver.value(.metricsPort, Parse.integer(in: 0...65_535)),
            metricsFile: resolver.optional(.metricsFile, Parse.nonEmpty),
            lagThreshold: resolver.value(.lagThreshold, Parse.integer(in: 1...Int(Int32.max))),
            producer: Producer(
                changesLimit: resolver.value(.changesLimit, Parse.integer(in: 1...10_000)),
                pollInterval: resolver.value(.pollInterval, Parse.duration),
                pollIntervalMax: resolver.value(.pollIntervalMax, Parse.duration),
                seqResetPolicy: resolver.value(.seqResetPolicy, Parse.seqResetPolicy),
                watchdogInterval: resolver.value(.watchdogInterval, Parse.duration),
                watchdogStallChecks: resolver.value(.watchdogStallChecks, Parse.integer(in: 1...1000)),
                watchdogMaxRestarts: resolver.value(.watchdogMaxRestarts, Parse.integer(in: 1...1000)),
                watchdogRestartWindow: resolver.value(.watchdogRestartWindow, Parse.duration)
            ),
            consumer: Consumer(
                concurrency: resolver.value(.consumerConcurrency, Parse.integer(in: 1...256)),
                sessionTimeout: resolver.value(.kafkaSessionTimeout, Parse.duration),
                packumentMaxSize: resolver.value(.packumentMaxSize, Parse.byteSize),
                maxUnpackedSize: resolver.value(.maxUnpackedSize, Parse.byteSize),
                maxTarballEntries: resolver.value(.maxTarballEntries, Parse.integer(in: 1...100_000_000)),
                replicaLagWait: resolver.value(.replicaLagWait, Parse.duration),
                packumentRevisionsKept: resolver.value(.packumentRevisionsKept, Parse.integer(in: 1...1000)),
                removeUnpublished: resolver.value(.removeUnpublished, Parse.boolean),
                fetchTarballs: resolver.value(.fetchTarballs, Parse.boolean),
                processingRetryMax: resolver.value(.processingRetryMax, Parse.duration),
                stallTimeout: resolver.value(.consumerStallTimeout, Parse.duration),
                signatures: Signatures(
                    policy: resolver.value(.signaturePolicy, Parse.signaturePolicy),
                    keysFile: resolver.optional(.npmSigningKeys, Parse.nonEmpty),
                    trustRegistryKeys: resolver.value(.npmTrustRegistryKeys, Parse.boolean)
                )
            ),
            serve: Serve(
                host: resolver.value(.serveHost, Parse.nonEmpty),
                port: resolver.value(.servePort, Parse.integer(in: 0...65_535)),
                publicURL: resolver.optional(.publicURL, Parse.httpURL),
                minimumAge: resolver.value(.serveMinAge, Parse.ageOrOff),
                fastPath: resolver.value(.serveFastPath, Parse.boolean),
                fastPathCacheBytes: resolver.value(.serveFastPathCache, Parse.byteSize)
            ),
            reconcile: Reconcile(
                interval: resolver.value(.reconcileInterval, Parse.durationOrOff),
                pageSize: resolver.value(.reconcilePageSize, Parse.integer(in: 1...10_000)),
                requestsPerSecond: { $0 > 0 ? $0 : nil }(resolver.value(.reconcileRate, Parse.rate))
            ),
            httpTimeout: resolver.value(.httpTimeout, Parse.duration),
            logLevel: resolver.value(.logLevel, Parse.oneOf(["trace", "debug", "info", "notice", "warning", "error", "critical"])),
            sources: resolver.usedSources,
            rawValues: resolver.usedValues
        )
        return configuration
    }
}

/// Picks each setting's winning value and remembers where it came from.
private struct Resolver {
    private let sources: ConfigurationSources
    private let fileValues: [Setting: String]
    private let filePath: String
    private(set) var usedSources: [Setting: ConfigurationSource] = [:]
    private(set) var usedValues: [Setting: String] = [:]

    init(sources: ConfigurationSources) throws {
        self.sources = sources
        let explicitPath = sources.flags[.configFile] ?? sources.environment[Setting.configFile.environmentName]
        filePath = explicitPath ?? Setting.configFile.defaultValue!
        usedValues[.configFile] = filePath
        usedSources[.configFile] = sources.flags[.configFile] != nil ? .flag : explicitPath != nil ? .environment : .defaultValue
        guard let data = try Self.read(filePath, with: sources.readFile) else {
            if explicitPath != nil {
                throw ConfigurationError(
                    setting: .configFile,
                    source: sources.flags[.configFile] != nil ? .flag : .environment,
                    problem: "the file \(filePath) does not exist"
                )
            }
            fileValues = [:]
            return
        }
        fileValues = try Self.parseFile(data, path: filePath)
    }

    /// The winning raw value and its source, or nil when no source sets it and it has no default.
    private mutating func raw(_ setting: Setting) -> (String, ConfigurationSource)? {
        let found: (String, ConfigurationSource)?
        if let flag = sources.flags[setting] {
            found = (flag, .flag)
        } else if let environment = sources.environment[setting.environmentName] {
            found = (environment, .environment)
        } else if let file = fileValues[setting] {
            found = (file, .file(path: filePath))
        } else if let defaultValue = setting.defaultValue {
            found = (defaultValue, .defaultValue)
        } else {
            found = nil
        }
        if let (value, source) = found {
            usedValues[setting] = value
            usedSources[setting] = source
        }
        return found
    }

    mutating func value<T>(_ setting: Setting, _ parse: (String) -> Result<T, ParseFailure>) throws -> T {
        guard let (text, source) = raw(setting) else {
            throw ConfigurationError(setting: setting, source: .defaultValue, problem: "no value given")
        }
        return try check(setting, text, source, parse)
    }

    /// An optional setting: unset, or set to the empty string, means nil.
    mutating func optional<T>(_ setting: Setting, _ parse: (String) -> Result<T, ParseFailure>) throws -> T? {
        guard let (text, source) = raw(setting), !text.isEmpty else { return nil }
        return try check(setting, text, source, parse)
    }

    private func check<T>(_ setting: Setting, _ text: String, _ source: ConfigurationSource, _ parse: (String) -> Result<T, ParseFailure>) throws -> T {
        switch parse(text) {
        case .success(let value):
            return value
        case .failure(let failure):
            let shown = setting.isSecret ? "<redacted>" : "\"\(text)\""
            throw ConfigurationError(setting: setting, source: source, problem: "\(shown) is not valid: expected \(failure.expected)")
        }
    }

    private static func read(_ path: String, with readFile: (String) throws -> Data?) throws -> Data? {
        do {
            return try readFile(path)
        } catch {
            throw ConfigurationError(setting: nil, source: .file(path: path), problem: "cannot read the file: \(error)")
        }
    }

    /// `config.json`: one JSON object whose keys are settings' file keys (`update_seq`,
    /// `kafka_topic`, …) and whose values are strings or numbers. Keys starting with `_`
    /// are comments and ignored; any other unknown key is an error (it is most likely a typo).
    private static func parseFile(_ data: Data, path: String) throws -> [Setting: String] {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data, options: [.fragmentsAllowed])
        } catch {
            throw ConfigurationError(setting: nil, source: .file(path: path), problem: "malformed JSON: \(describe(error))")
        }
        guard let dictionary = object as? [String: Any] else {
            throw ConfigurationError(setting: nil, source: .file(path: path), problem: "expected a JSON object at the top level")
        }
        let byKey = Dictionary(uniqueKeysWithValues: Setting.allCases.map { ($0.fileKey, $0) })
        var values: [Setting: String] = [:]
        for (key, value) in dictionary where !key.hasPrefix("_") {
            guard let setting = byKey[key] else {
                throw ConfigurationError(setting: nil, source: .file(path: path), problem: "unknown key \"\(key)\" (known keys: \(byKey.keys.sorted().joined(separator: ", ")))")
            }
            guard setting != .configFile else {
                throw ConfigurationError(setting: setting, source: .file(path: path), problem: "the file cannot name another configuration file")
            }
            switch value {
            case let number as NSNumber:
                values[setting] = number.stringValue
            case let string as String:
                values[setting] = string
            case is NSNull:
                continue
            default:
                throw ConfigurationError(setting: setting, source: .file(path: path), problem: "expected a string or a number, found \(type(of: value))")
            }
        }
        return values
    }

    private static func describe(_ error: any Error) -> String {
        let nsError = error as NSError
        return (nsError.userInfo[NSDebugDescriptionErrorKey] as? String) ?? nsError.localizedDescription
    }
}
