import ArgumentParser

/// The configuration flags every executable accepts. `--help` lists each with its environment
/// variable, `config.json` key and default.
public struct ConfigurationOptions: ParsableArguments, Sendable {
    @Option(name: .customLong(Setting.configFile.flagName), help: ArgumentHelp(Setting.configFile.helpText))
    var configFile: String?
    @Option(name: .customLong(Setting.updateSeq.flagName), help: ArgumentHelp(Setting.updateSeq.helpText))
    var updateSeq: String?
    @Option(name: .customLong(Setting.kafkaBrokers.flagName), help: ArgumentHelp(Setting.kafkaBrokers.helpText))
    var kafkaBrokers: String?
    @Option(name: .customLong(Setting.kafkaTopic.flagName), help: ArgumentHelp(Setting.kafkaTopic.helpText))
    var kafkaTopic: String?
    @Option(name: .customLong(Setting.kafkaTopicNumPartitions.flagName), help: ArgumentHelp(Setting.kafkaTopicNumPartitions.helpText))
    var kafkaTopicNumPartitions: String?
    @Option(name: .customLong(Setting.kafkaReplicationFactor.flagName), help: ArgumentHelp(Setting.kafkaReplicationFactor.helpText))
    var kafkaReplicationFactor: String?
    @Option(name: .customLong(Setting.kafkaConsumerGroup.flagName), help: ArgumentHelp(Setting.kafkaConsumerGroup.helpText))
    var kafkaConsumerGroup: String?
    @Option(name: .customLong(Setting.kafkaDeadLetterTopic.flagName), help: ArgumentHelp(Setting.kafkaDeadLetterTopic.helpText))
    var kafkaDeadLetterTopic: String?
    @Option(name: .customLong(Setting.kafkaEventsTopic.flagName), help: ArgumentHelp(Setting.kafkaEventsTopic.helpText))
    var kafkaEventsTopic: String?
    @Option(name: .customLong(Setting.kafkaSecurityProtocol.flagName), help: ArgumentHelp(Setting.kafkaSecurityProtocol.helpText))
    var kafkaSecurityProtocol: String?
    @Option(name: .customLong(Setting.kafkaSASLMechanism.flagName), help: ArgumentHelp(Setting.kafkaSASLMechanism.helpText))
    var kafkaSASLMechanism: String?
    @Option(name: .customLong(Setting.kafkaSASLUsername.flagName), help: ArgumentHelp(Setting.kafkaSASLUsername.helpText))
    var kafkaSASLUsername: String?
    @Option(name: .customLong(Setting.kafkaSSLCALocation.flagName), help: ArgumentHelp(Setting.kafkaSSLCALocation.helpText))
    var kafkaSSLCALocation: String?
    @Option(name: .customLong(Setting.kafkaSSLCertificateLocation.flagName), help: ArgumentHelp(Setting.kafkaSSLCertificateLocation.helpText))
    var kafkaSSLCertificateLocation: String?
    @Option(name: .customLong(Setting.kafkaSSLKeyLocation.flagName), help: ArgumentHelp(Setting.kafkaSSLKeyLocation.helpText))
    var kafkaSSLKeyLocation: String?
    @Option(name: .customLong(Setting.npmReplicateURL.flagName), help: ArgumentHelp(Setting.npmReplicateURL.helpText))
    var npmReplicateURL: String?
    @Option(name: .customLong(Setting.npmRegistryURL.flagName), help: ArgumentHelp(Setting.npmRegistryURL.helpText))
    var npmRegistryURL: String?
    @Option(name: .customLong(Setting.updateSeqDir.flagName), help: ArgumentHelp(Setting.updateSeqDir.helpText))
    var updateSeqDir: String?
    @Option(name: .customLong(Setting.localPackageDir.flagName), help: ArgumentHelp(Setting.localPackageDir.helpText))
    var localPackageDir: String?
    @Option(name: .customLong(Setting.remotePackageDir.flagName), help: ArgumentHelp(Setting.remotePackageDir.helpText))
    var remotePackageDir: String?
    @Option(name: .customLong(Setting.maxSize.flagName), help: ArgumentHelp(Setting.maxSize.helpText))
    var maxSize: String?
    @Option(name: .customLong(Setting.subdirectoryHashLength.flagName), help: ArgumentHelp(Setting.subdirectoryHashLength.helpText))
    var subdirectoryHashLength: String?
    @Option(name: .customLong(Setting.storeSync.flagName), help: ArgumentHelp(Setting.storeSync.helpText))
    var storeSync: String?
    @Option(name: .customLong(Setting.oldPackageVersionsLimit.flagName), help: ArgumentHelp(Setting.oldPackageVersionsLimit.helpText))
    var oldPackageVersionsLimit: String?
    @Option(name: .customLong(Setting.couchDBURL.flagName), help: ArgumentHelp(Setting.couchDBURL.helpText))
    var couchDBURL: String?
    @Option(name: .customLong(Setting.couchDBUser.flagName), help: ArgumentHelp(Setting.couchDBUser.helpText))
    var couchDBUser: String?
    @Option(name: .customLong(Setting.databaseName.flagName), help: ArgumentHelp(Setting.databaseName.helpText))
    var databaseName: String?
    @Option(name: .customLong(Setting.dbdataDir.flagName), help: ArgumentHelp(Setting.dbdataDir.helpText))
    var dbdataDir: String?
    @Option(name: .customLong(Setting.metricsPort.flagName), help: ArgumentHelp(Setting.metricsPort.helpText))
    var metricsPort: String?
    @Option(name: .customLong(Setting.lagThreshold.flagName), help: ArgumentHelp(Setting.lagThreshold.helpText))
    var lagThreshold: String?
    @Option(name: .customLong(Setting.logLevel.flagName), help: ArgumentHelp(Setting.logLevel.helpText))
    var logLevel: String?
    @Option(name: .customLong(Setting.changesLimit.flagName), help: ArgumentHelp(Setting.changesLimit.helpText))
    var changesLimit: String?
    @Option(name: .customLong(Setting.pollInterval.flagName), help: ArgumentHelp(Setting.pollInterval.helpText))
    var pollInterval: String?
    @Option(name: .customLong(Setting.pollIntervalMax.flagName), help: ArgumentHelp(Setting.pollIntervalMax.helpText))
    var pollIntervalMax: String?
    @Option(name: .customLong(Setting.httpTimeout.flagName), help: ArgumentHelp(Setting.httpTimeout.helpText))
    var httpTimeout: String?
    @Option(name: .customLong(Setting.seqResetPolicy.flagName), help: ArgumentHelp(Setting.seqResetPolicy.helpText))
    var seqResetPolicy: String?
    @Option(name: .customLong(Setting.watchdogInterval.flagName), help: ArgumentHelp(Setting.watchdogInterval.helpText))
    var watchdogInterval: String?
    @Option(name: .customLong(Setting.watchdogStallChecks.flagName), help: ArgumentHelp(Setting.watchdogStallChecks.helpText))
    var watchdogStallChecks: String?
    @Option(name: .customLong(Setting.watchdogMaxRestarts.flagName), help: ArgumentHelp(Setting.watchdogMaxRestarts.helpText))
    var watchdogMaxRestarts: String?
    @Option(name: .customLong(Setting.watchdogRestartWindow.flagName), help: ArgumentHelp(Setting.watchdogRestartWindow.helpText))
    var watchdogRestartWindow: String?

    @Option(name: .customLong(Setting.consumerConcurrency.flagName), help: ArgumentHelp(Setting.consumerConcurrency.helpText))
    var consumerConcurrency: String?
    @Option(name: .customLong(Setting.kafkaSessionTimeout.flagName), help: ArgumentHelp(Setting.kafkaSessionTimeout.helpText))
    var kafkaSessionTimeout: String?
    @Option(name: .customLong(Setting.packumentMaxSize.flagName), help: ArgumentHelp(Setting.packumentMaxSize.helpText))
    var packumentMaxSize: String?
    @Option(name: .customLong(Setting.maxUnpackedSize.flagName), help: ArgumentHelp(Setting.maxUnpackedSize.helpText))
    var maxUnpackedSize: String?
    @Option(name: .customLong(Setting.maxTarballEntries.flagName), help: ArgumentHelp(Setting.maxTarballEntries.helpText))
    var maxTarballEntries: String?
    @Option(name: .customLong(Setting.replicaLagWait.flagName), help: ArgumentHelp(Setting.replicaLagWait.helpText))
    var replicaLagWait: String?
    @Option(name: .customLong(Setting.packumentRevisionsKept.flagName), help: ArgumentHelp(Setting.packumentRevisionsKept.helpText))
    var packumentRevisionsKept: String?
    @Option(name: .customLong(Setting.removeUnpublished.flagName), help: ArgumentHelp(Setting.removeUnpublished.helpText))
    var removeUnpublished: String?
    @Option(name: .customLong(Setting.fetchTarballs.flagName), help: ArgumentHelp(Setting.fetchTarballs.helpText))
    var fetchTarballs: String?
    @Option(name: .customLong(Setting.metricsFile.flagName), help: ArgumentHelp(Setting.metricsFile.helpText))
    var metricsFile: String?
    @Option(name: .customLong(Setting.processingRetryMax.flagName), help: ArgumentHelp(Setting.processingRetryMax.helpText))
    var processingRetryMax: String?
    @Option(name: .customLong(Setting.consumerStallTimeout.flagName), help: ArgumentHelp(Setting.consumerStallTimeout.helpText))
    var consumerStallTimeout: String?
    @Option(name: .customLong(Setting.signaturePolicy.flagName), help: ArgumentHelp(Setting.signaturePolicy.helpText))
    var signaturePolicy: String?
    @Option(name: .customLong(Setting.npmSigningKeys.flagName), help: ArgumentHelp(Setting.npmSigningKeys.helpText))
    var npmSigningKeys: String?
    @Option(name: .customLong(Setting.npmTrustRegistryKeys.flagName), help: ArgumentHelp(Setting.npmTrustRegistryKeys.helpText))
    var npmTrustRegistryKeys: String?

    @Option(name: .customLong(Setting.reconcileInterval.flagName), help: ArgumentHelp(Setting.reconcileInterval.helpText))
    var reconcileInterval: String?
    @Option(name: .customLong(Setting.reconcilePageSize.flagName), help: ArgumentHelp(Setting.reconcilePageSize.helpText))
    var reconcilePageSize: String?
    @Option(name: .customLong(Setting.reconcileRate.flagName), help: ArgumentHelp(Setting.reconcileRate.helpText))
    var reconcileRate: String?

    @Option(name: .customLong(Setting.servePort.flagName), help: ArgumentHelp(Setting.servePort.helpText))
    public var servePort: String?
    @Option(name: .customLong(Setting.serveHost.flagName), help: ArgumentHelp(Setting.serveHost.helpText))
    var serveHost: String?
    @Option(name: .customLong(Setting.publicURL.flagName), help: ArgumentHelp(Setting.publicURL.helpText))
    var publicURL: String?

    @Option(name: .customLong(Setting.serveMinAge.flagName), help: ArgumentHelp(Setting.serveMinAge.helpText))
    var serveMinAge: String?

    @Option(name: .customLong(Setting.serveFastPath.flagName), help: ArgumentHelp(Setting.serveFastPath.helpText))
    var serveFastPath: String?

    @Option(name: .customLong(Setting.serveFastPathCache.flagName), help: ArgumentHelp(Setting.serveFastPathCache.helpText))
    var serveFastPathCache: String?

    @Option(name: .customLong(Setting.pinDirectory.flagName), help: ArgumentHelp(Setting.pinDirectory.helpText))
    var pinDirectory: String?

    public init() {}

    /// The flags that were given. Secrets (passwords) have no flag: a command line is visible to
    /// every user of the machine, so they come from the environment or the file only.
    public var givenFlags: [Setting: String] {
        let pairs: [(Setting, String?)] = [
            (.configFile, configFile), (.updateSeq, updateSeq), (.kafkaBrokers, kafkaBrokers), (.kafkaTopic, kafkaTopic),
            (.kafkaTopicNumPartitions, kafkaTopicNumPartitions), (.kafkaReplicationFactor, kafkaReplicationFactor),
            (.kafkaConsumerGroup, kafkaConsumerGroup), (.kafkaDeadLetterTopic, kafkaDeadLetterTopic), (.kafkaEventsTopic, kafkaEventsTopic),
            (.kafkaSecurityProtocol, kafkaSecurityProtocol), (.kafkaSASLMechanism, kafkaSASLMechanism), (.kafkaSASLUsername, kafkaSASLUsername),
            (.kafkaSSLCALocation, kafkaSSLCALocation), (.kafkaSSLCertificateLocation, kafkaSSLCertificateLocation),
            (.kafkaSSLKeyLocation, kafkaSSLKeyLocation), (.npmReplicateURL, npmReplicateURL), (.npmRegistryURL, npmRegistryURL),
            (.updateSeqDir, updateSeqDir), (.localPackageDir, localPackageDir), (.remotePackageDir, remotePackageDir), (.maxSize, maxSize),
            (.subdirectoryHashLength, subdirectoryHashLength), (.storeSync, storeSync), (.oldPackageVersionsLimit, oldPackageVersionsLimit), (.couchDBURL, couchDBURL),
            (.couchDBUser, couchDBUser), (.databaseName, databaseName), (.dbdataDir, dbdataDir), (.metricsPort, metricsPort),
            (.lagThreshold, lagThreshold), (.logLevel, logLevel), (.changesLimit, changesLimit), (.pollInterval, pollInterval),
            (.pollIntervalMax, pollIntervalMax), (.httpTimeout, httpTimeout), (.seqResetPolicy, seqResetPolicy),
            (.watchdogInterval, watchdogInterval), (.watchdogStallChecks, watchdogStallChecks),
            (.watchdogMaxRestarts, watchdogMaxRestarts), (.watchdogRestartWindow, watchdogRestartWindow),
            (.consumerConcurrency, consumerConcurrency), (.kafkaSessionTimeout, kafkaSessionTimeout), (.packumentMaxSize, packumentMaxSize), (.maxUnpackedSize, maxUnpackedSize), (.maxTarballEntries, maxTarballEntries), (.replicaLagWait, replicaLagWait), (.packumentRevisionsKept, packumentRevisionsKept), (.removeUnpublished, removeUnpublished), (.processingRetryMax, processingRetryMax), (.consumerStallTimeout, consumerStallTimeout),
            (.fetchTarballs, fetchTarballs), (.metricsFile, metricsFile),
            (.signaturePolicy, signaturePolicy), (.npmSigningKeys, npmSigningKeys), (.npmTrustRegistryKeys, npmTrustRegistryKeys),
            (.servePort, servePort), (.serveHost, serveHost), (.publicURL, publicURL),
            (.reconcileInterval, reconcileInterval), (.reconcilePageSize, reconcilePageSize), (.reconcileRate, reconcileRate),
            (.serveMinAge, serveMinAge), (.serveFastPath, serveFastPath), (.serveFastPathCache, serveFastPathCache), (.pinDirectory, pinDirectory),
        ]
        return Dictionary(uniqueKeysWithValues: pairs.compactMap { setting, value in value.map { (setting, $0) } })
    }

    /// Settings that have a flag (every one but the secrets).
    public static var flaggedSettings: [Setting] { Setting.allCases.filter { !$0.isSecret } }

    /// Loads the configuration with these flags over the process's environment and `config.json`.
    public func load(environment: [String: String]? = nil) throws -> MirrorConfiguration {
        var sources = ConfigurationSources(flags: givenFlags)
        if let environment { sources.environment = environment }
        return try MirrorConfiguration.load(sources: sources)
    }
}
