import Foundation

/// Every setting npm-mirror reads, with its environment variable, its `config.json` key, its
/// command-line flag, its default and what it means. This table is the one source for loading,
/// `--help`, error messages and the README's configuration table.
public enum Setting: String, CaseIterable, Sendable, Hashable {
    case configFile = "CONFIG_FILE"
    case updateSeq = "UPDATE_SEQ"
    case kafkaBrokers = "KAFKA_BROKERS"
    case kafkaTopic = "KAFKA_TOPIC"
    case kafkaTopicNumPartitions = "KAFKA_TOPIC_NUM_PARTITIONS"
    case kafkaReplicationFactor = "KAFKA_REPLICATION_FACTOR"
    case kafkaConsumerGroup = "KAFKA_CONSUMER_GROUP"
    case kafkaDeadLetterTopic = "KAFKA_DEAD_LETTER_TOPIC"
    case kafkaEventsTopic = "KAFKA_EVENTS_TOPIC"
    case kafkaSecurityProtocol = "KAFKA_SECURITY_PROTOCOL"
    case kafkaSASLMechanism = "KAFKA_SASL_MECHANISM"
    case kafkaSASLUsername = "KAFKA_SASL_USERNAME"
    case kafkaSASLPassword = "KAFKA_SASL_PASSWORD"
    case kafkaSSLCALocation = "KAFKA_SSL_CA_LOCATION"
    case kafkaSSLCertificateLocation = "KAFKA_SSL_CERTIFICATE_LOCATION"
    case kafkaSSLKeyLocation = "KAFKA_SSL_KEY_LOCATION"
    case kafkaSSLKeyPassword = "KAFKA_SSL_KEY_PASSWORD"
    case npmReplicateURL = "NPM_REPLICATE_URL"
    case npmRegistryURL = "NPM_REGISTRY_URL"
    case updateSeqDir = "UPDATE_SEQ_DIR"
    case localPackageDir = "LOCAL_PACKAGE_DIR"
    case remotePackageDir = "REMOTE_PACKAGE_DIR"
    case maxSize = "MAX_SIZE"
    case subdirectoryHashLength = "SUBDIRECTORY_HASH_LENGTH"
    case storeSync = "STORE_SYNC"
    case oldPackageVersionsLimit = "OLD_PACKAGE_VERSIONS_LIMIT"
    case couchDBURL = "COUCHDB_URL"
    case couchDBUser = "COUCHDB_USER"
    case couchDBPassword = "COUCHDB_PASSWORD"
    case databaseName = "DATABASE_NAME"
    case dbdataDir = "DBDATA_DIR"
    case metricsPort = "METRICS_PORT"
    case lagThreshold = "LAG_THRESHOLD"
    case changesLimit = "CHANGES_LIMIT"
    case pollInterval = "POLL_INTERVAL"
    case pollIntervalMax = "POLL_INTERVAL_MAX"
    case httpTimeout = "HTTP_TIMEOUT"
    case seqResetPolicy = "SEQ_RESET_POLICY"
    case watchdogInterval = "WATCHDOG_INTERVAL"
    case watchdogStallChecks = "WATCHDOG_STALL_CHECKS"
    case watchdogMaxRestarts = "WATCHDOG_MAX_RESTARTS"
    case watchdogRestartWindow = "WATCHDOG_RESTART_WINDOW"
    case consumerConcurrency = "CONSUMER_CONCURRENCY"
    case kafkaSessionTimeout = "KAFKA_SESSION_TIMEOUT"
    case packumentMaxSize = "PACKUMENT_MAX_SIZE"
    case maxUnpackedSize = "MAX_UNPACKED_SIZE"
    case maxTarballEntries = "MAX_TARBALL_ENTRIES"
    case replicaLagWait = "REPLICA_LAG_WAIT"
    case packumentRevisionsKept = "PACKUMENT_REVISIONS_KEPT"
    case removeUnpublished = "REMOVE_UNPUBLISHED"
    case fetchTarballs = "FETCH_TARBALLS"
    case processingRetryMax = "PROCESSING_RETRY_MAX"
    case consumerStallTimeout = "CONSUMER_STALL_TIMEOUT"
    case signaturePolicy = "SIGNATURE_POLICY"
    case npmSigningKeys = "NPM_SIGNING_KEYS"
    case npmTrustRegistryKeys = "NPM_TRUST_REGISTRY_KEYS"
    case logLevel = "LOG_LEVEL"
    case metricsFile = "METRICS_FILE"
    case servePort = "SERVE_PORT"
    case serveHost = "SERVE_HOST"
    case publicURL = "PUBLIC_URL"
    case reconcileInterval = "RECONCILE_INTERVAL"
    case reconcilePageSize = "RECONCILE_PAGE_SIZE"
    case reconcileRate = "RECONCILE_RATE"
    case serveMinAge = "SERVE_MIN_AGE"
    case serveFastPath = "SERVE_FAST_PATH"
    case serveFastPathCache = "SERVE_FAST_PATH_CACHE"
    case pinDirectory = "PIN_DIRECTORY"

    /// The environment variable.
    public var environmentName: String { rawValue }

    /// The key in `config.json`: the environment name in lower case (`update_seq`, `kafka_topic`).
    public var fileKey: String { rawValue.lowercased() }

    /// The command-line flag, without the leading dashes (`kafka-topic`).
    public var flagName: String { rawValue.lowercased().replacingOccurrences(of: "_", with: "-") }

    /// Whether the value is a secret, never to be printed.
    public var isSecret: Bool {
        self == .kafkaSASLPassword || self == .kafkaSSLKeyPassword || self == .couchDBPassword
    }

    /// The default, as text, or nil when unset by default.
    public var defaultValue: String? {
        switch self {
        case .configFile: "./config.json"
        case .updateSeq: "now"
        case .kafkaTopic: "npm-changes"
        case .kafkaTopicNumPartitions: "12"
        case .kafkaReplicationFactor: "-1"
        case .kafkaConsumerGroup: "npm-mirror"
        case .kafkaDeadLetterTopic: "npm-changes-skipped"
        case .kafkaEventsTopic: "npm-mirror-events"
        case .npmReplicateURL: "https://replicate.npmjs.com"
        case .npmRegistryURL: "https://registry.npmjs.org"
        case .updateSeqDir: "./update_seq"
        case .localPackageDir: "./temp_packages"
        case .remotePackageDir: "./packages"
        case .maxSize: "10MB"
        case .subdirectoryHashLength: "3"
        case .storeSync: "file"
        case .oldPackageVersionsLimit: "3"
        case .databaseName: "npm-mirror"
        case .dbdataDir: "./dbdata"
        case .metricsPort: "0"
        case .lagThreshold: "200"
        case .changesLimit: "10000"
        case .pollInterval: "1s"
        case .pollIntervalMax: "30s"
        case .httpTimeout: "60s"
        case .seqResetPolicy: "keep-highest"
        case .watchdogInterval: "20s"
        case .watchdogStallChecks: "6"
        case .watchdogMaxRestarts: "5"
        case .watchdogRestartWindow: "30m"
        case .consumerConcurrency: "8"
        case .kafkaSessionTimeout: "45s"
        case .packumentMaxSize: "100MB"
        case .maxUnpackedSize: "1GB"
        case .maxTarballEntries: "200000"
        case .replicaLagWait: "60s"
        case .packumentRevisionsKept: "3"
        case .removeUnpublished: "false"
        case .fetchTarballs: "true"
        case .processingRetryMax: "10m"
        case .consumerStallTimeout: "15m"
        case .signaturePolicy: "record"
        case .npmTrustRegistryKeys: "false"
        case .logLevel: "info"
        case .servePort: "4873"
        case .serveHost: "127.0.0.1"
        case .reconcileInterval: "off"
        case .reconcilePageSize: "10000"
        case .reconcileRate: "5"
        case .serveMinAge: "off"
        case .serveFastPath: "true"
        case .serveFastPathCache: "256MB"
        case .kafkaBrokers, .kafkaSecurityProtocol, .kafkaSASLMechanism, .kafkaSASLUsername, .kafkaSASLPassword,
            .kafkaSSLCALocation, .kafkaSSLCertificateLocation, .kafkaSSLKeyLocation, .kafkaSSLKeyPassword,
            .couchDBURL, .couchDBUser, .couchDBPassword, .metricsFile, .publicURL, .npmSigningKeys, .pinDirectory:
            nil
        }
    }

    /// What the setting does, in one line.
    public var summary: String {
        switch self {
        case .configFile: "Path of the JSON configuration file (read if present; an explicitly named file must exist)."
        case .updateSeq: "Where the producer starts when the topic and update_seq/ are empty: a seq number, or \"now\" for the registry's current update_seq."
        case .kafkaBrokers: "Kafka bootstrap servers (host:port,…). Unset: `npm-mirror run` starts an embedded broker."
        case .kafkaTopic: "Topic the changes go to."
        case .kafkaTopicNumPartitions: "Partitions of the changes topic when it is created."
        case .kafkaReplicationFactor: "Replication factor of created topics (-1: the broker's default)."
        case .kafkaConsumerGroup: "Consumer group of changes-consumer."
        case .kafkaDeadLetterTopic: "Topic for changes that could not be processed."
        case .kafkaEventsTopic: "Topic for per-stage events (downloaded, stored, recorded, skipped, deleted)."
        case .kafkaSecurityProtocol: "librdkafka security.protocol: plaintext, ssl, sasl_plaintext or sasl_ssl."
        case .kafkaSASLMechanism: "librdkafka sasl.mechanism: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512, …"
        case .kafkaSASLUsername: "librdkafka sasl.username."
        case .kafkaSASLPassword: "librdkafka sasl.password (secret: never printed)."
        case .kafkaSSLCALocation: "librdkafka ssl.ca.location: CA certificate file."
        case .kafkaSSLCertificateLocation: "librdkafka ssl.certificate.location: client certificate file."
        case .kafkaSSLKeyLocation: "librdkafka ssl.key.location: client private key file."
        case .kafkaSSLKeyPassword: "librdkafka ssl.key.password (secret: never printed)."
        case .npmReplicateURL: "Base URL of the registry's replicate service (changes feed)."
        case .npmRegistryURL: "Base URL of the registry (packuments and tarballs)."
        case .updateSeqDir: "Directory of the producer's and consumer's checkpoint files."
        case .localPackageDir: "Scratch directory where downloads are written and verified."
        case .remotePackageDir: "The hash-sharded package store."
        case .maxSize: "Largest tarball stored, in bytes (suffixes KB, MB, GB, KiB, MiB, GiB allowed)."
        case .subdirectoryHashLength: "Hex characters of the SHA-256 of a name that make its shard folder (1-64)."
        case .storeSync: "How store writes are made durable: file (an fsync per file and per folder) or grouped (concurrent changes share one syncfs of the store's file systems at each durability point; for a store on a file system of its own)."
        case .oldPackageVersionsLimit: "How many of a package's newest versions keep their tarballs."
        case .couchDBURL: "CouchDB base URL. Unset: records go to an embedded SQLite file in DBDATA_DIR."
        case .couchDBUser: "CouchDB user."
        case .couchDBPassword: "CouchDB password (secret: never printed)."
        case .databaseName: "CouchDB database (or SQLite file name) for the records."
        case .dbdataDir: "Directory of the embedded record database."
        case .metricsPort: "Port of the Prometheus /metrics endpoint (0: pick a free port and log it)."
        case .lagThreshold: "Changes of lag above the first measured lag that make the watchdog restart the producer."
        case .changesLimit: "Changes asked for per _changes page (1-10000)."
        case .pollInterval: "Wait after an empty _changes page; doubles while pages stay empty, up to POLL_INTERVAL_MAX (s, ms, m suffixes)."
        case .pollIntervalMax: "Longest wait between polls of an idle feed, and longest retry backoff."
        case .httpTimeout: "Deadline of one HTTP request to the registry."
        case .seqResetPolicy: "When the feed's seq goes backwards: keep-highest (keep our seq and wait for the feed to pass it) or restart-from-head."
        case .watchdogInterval: "How often the lag watchdog reads the registry's update_seq."
        case .watchdogStallChecks: "Checks in a row with update_seq moving but the acknowledged seq not, before the watchdog restarts the producer."
        case .watchdogMaxRestarts: "Watchdog restarts within WATCHDOG_RESTART_WINDOW after which the process exits non-zero for its supervisor."
        case .watchdogRestartWindow: "The window WATCHDOG_MAX_RESTARTS counts restarts in."
        case .consumerConcurrency: "Packages a consumer processes at once (changes of one package always in order)."
        case .kafkaSessionTimeout: "Kafka consumer session.timeout.ms: how long the group waits for a silent member (same for every member)."
        case .packumentMaxSize: "Largest packument fetched; larger ones are skipped with a reason."
        case .maxUnpackedSize: "Largest unpacked size of a tarball (tar bomb guard)."
        case .maxTarballEntries: "Most entries in one tarball (tar bomb guard)."
        case .replicaLagWait: "How long to wait for the packument to catch up with the rev a change announced, before storing what is there as stale."
        case .packumentRevisionsKept: "Packument revisions kept per package (the current one included)."
        case .removeUnpublished: "Remove a package's stored files when it is deleted or unpublished (true/false)."
        case .fetchTarballs: "Download, verify and store tarballs (true/false); false mirrors metadata only: packuments and records."
        case .processingRetryMax: "How long one change is retried (registry, store or database failures) before it is dead-lettered."
        case .consumerStallTimeout: "A consumer with lag and partitions that completes no change for this long, with nothing parked for a later retry, logs what it waits on and exits non-zero for its supervisor to restart it."
        case .signaturePolicy: "What the registry's signature of a kept version decides: record (store it, record the verdict), require (a version not verified is not stored), off (no check)."
        case .npmSigningKeys: "A JSON file in the shape of the registry's /-/npm/v1/keys whose keys replace the built-in npm keys. Unset: the two npm keys built in."
        case .npmTrustRegistryKeys: "Also trust keys the registry's /-/npm/v1/keys serves that are not among the trusted ones (true/false); false: they are only logged and counted."
        case .logLevel: "Log level: trace, debug, info, notice, warning, error or critical."
        case .servePort: "Port `npm-mirror serve` listens on (also `--port`; 0: pick a free port and log it)."
        case .serveHost: "Address `npm-mirror serve` listens on (0.0.0.0: every interface)."
        case .publicURL: "Base URL served tarball URLs point at (e.g. https://npm.example.org). Unset: http://<the request's Host>, https with X-Forwarded-Proto: https."
        case .reconcileInterval: "How often the producer process walks the registry's list of every package (_all_docs) against the records and sends what is missing or stale as changes (`npm-mirror reconcile` on a timer); off: never."
        case .reconcilePageSize: "Rows per page of the registry's _all_docs when reconciling (at most 10000)."
        case .reconcileRate: "Most _all_docs requests per second when reconciling (0: no limit)."
        case .serveMinAge: "Cooldown: `npm-mirror serve` leaves out versions published less than this long ago (e.g. 7d, 36h; off: serve everything held). The consumers still collect them."
        case .serveFastPath: "`npm-mirror serve` answers packuments it has answered before and tarballs on the event loop (tarballs by sendfile); false: every request through the framework's responder (for comparison)."
        case .serveFastPathCache: "The bytes of packument answers `npm-mirror serve`'s fast path keeps in memory (larger documents are sent from their files and take no room); past it, the oldest are dropped."
        case .pinDirectory: "A folder of lockfiles (package-lock.json, pnpm-lock.yaml, yarn.lock) whose versions are pinned: kept whatever OLD_PACKAGE_VERSIONS_LIMIT says, and fetched when missing. Read by the producer at start and when it changes."
        case .metricsFile: "When set, the final metrics (Prometheus text) are written to this file as the process exits (the benchmark reads them)."
        }
    }

    /// The line `--help` shows for the flag.
    public var helpText: String {
        let defaultText = defaultValue.map { "default: \($0)" } ?? "default: unset"
        let fileText = self == .configFile ? "" : "; config.json \"\(fileKey)\""
        return "\(summary) [env \(environmentName)\(fileText); \(defaultText)]"
    }
}

extension Setting {
    /// The Markdown table of every setting, as README.md shows it.
    public static var markdownTable: String {
        var lines = ["| Environment | config.json | Flag | Default | Meaning |", "| --- | --- | --- | --- | --- |"]
        for setting in allCases {
            let file = setting == .configFile ? "" : "`\(setting.fileKey)`"
            let flag = setting.isSecret ? "(none: secret)" : "`--\(setting.flagName)`"
            let defaultText = setting.defaultValue.map { "`\($0)`" } ?? "unset"
            let summary = setting.summary.replacingOccurrences(of: "|", with: "\\|")
            lines.append("| `\(setting.environmentName)` | \(file) | \(flag) | \(defaultText) | \(summary) |")
        }
        return lines.joined(separator: "\n")
    }
}
