
/// The whole configuration of an npm-mirror process, resolved from defaults, `config.json`, the
/// environment and command-line flags (each later source wins). Build it with
/// ``MirrorConfiguration/load(sources:)``; every value in it has been checked.
public struct MirrorConfiguration: Sendable, Equatable {
    /// Where the producer starts when neither the topic nor `update_seq/` says.
    public enum StartSequence: Sendable, Hashable, CustomStringConvertible {
        /// The registry's current `update_seq`.
        case now
        /// This seq.
        case seq(Int64)

        public var description: String {
            switch self {
            case .now: "now"
            case .seq(let seq): String(seq)
            }
        }
    }

    public struct Kafka: Sendable, Equatable {
        /// Bootstrap servers, or nil to use an embedded broker.
        public var brokers: String?
        public var topic: String
        public var topicPartitions: Int
        public var replicationFactor: Int
        public var consumerGroup: String
        public var deadLetterTopic: String
        public var eventsTopic: String
        /// `KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*`, `KAFKA_SSL_*`: the Kafka layer's own type.
        public var security: KafkaSecurity
    }

    public struct Registry: Sendable, Equatable {
        /// The replicate service (`/`, `/registry/_changes`), without a trailing slash.
        public var replicateURL: String
        /// The registry (packuments, tarballs), without a trailing slash.
        public var registryURL: String
    }

    public struct Storage: Sendable, Equatable {
        public var updateSeqDirectory: String
        public var localPackageDirectory: String
        public var remotePackageDirectory: String
        /// Largest tarball stored, in bytes.
        public var maxTarballSize: Int64
        public var subdirectoryHashLength: Int
        public var oldPackageVersionsLimit: Int
        /// `STORE_SYNC`.
        public var sync: StoreSync
        /// `PIN_DIRECTORY`: a folder of lockfiles whose versions are pinned; nil: none.
        public var pinDirectory: String?

        /// Where the pin sets are kept (`npm-mirror pin`, `PIN_DIRECTORY`): `UPDATE_SEQ_DIR/pins`, the
        /// state folder the producer, the consumers and serve share.
        public var pinSetDirectory: String { updateSeqDirectory + "/pins" }
    }

    /// How the store makes its writes durable (`STORE_SYNC`).
    public enum StoreSync: String, Sendable, Hashable {
        /// Concurrent changes share one `syncfs` at each durability point.
        case grouped
        /// An `fsync` per file and per folder.
        case file
    }

    public struct Records: Sendable, Equatable {
        /// CouchDB base URL, or nil to use the embedded database in ``dbdataDirectory``.
        public var couchDBURL: String?
        public var couchDBUser: String?
        public var couchDBPassword: String?
        public var databaseName: String
        public var dbdataDirectory: String
    }

    /// What the producer does when the feed's seq goes backwards.
    public enum SeqResetPolicy: String, Sendable, Hashable {
        /// Keep the highest seq seen and wait until the feed passes it again (no change is produced twice).
        case keepHighest = "keep-highest"
        /// Follow the feed from its new head.
        case restartFromHead = "restart-from-head"
    }

    public struct Producer: Sendable, Equatable {
        public var changesLimit: Int
        public var pollInterval: Duration
        public var pollIntervalMax: Duration
        public var seqResetPolicy: SeqResetPolicy
        public var watchdogInterval: Duration
        public var watchdogStallChecks: Int
        public var watchdogMaxRestarts: Int
        public var watchdogRestartWindow: Duration
    }

    public struct Consumer: Sendable, Equatable {
        public var concurrency: Int
        public var sessionTimeout: Duration
        public var packumentMaxSize: Int64
        public var maxUnpackedSize: Int64
        public var maxTarballEntries: Int
        public var replicaLagWait: Duration
        public var packumentRevisionsKept: Int
        public var removeUnpublished: Bool
        /// False: metadata only (packuments and records, no tarballs).
        public var fetchTarballs: Bool
        public var processingRetryMax: Duration
        /// `CONSUMER_STALL_TIMEOUT`: the stall watchdog's limit.
        public var stallTimeout: Duration
        public var signatures: Signatures
    }

    /// The registry's signatures of versions (`SIGNATURE_POLICY`, `NPM_SIGNING_KEYS`,
    /// `NPM_TRUST_REGISTRY_KEYS`).
    public struct Signatures: Sendable, Equatable {
        public enum Policy: String, Sendable, Equatable, CaseIterable {
            /// Store the version whatever its verdict; record the verdict.
            case record
            /// Store only verified versions; the others are skipped with their verdict as the reason.
            case require
            /// No verification.
            case off
        }

        public var policy: Policy
        /// A keys file replacing the built-in npm keys; nil: the built-in keys.
        public var keysFile: String?
        /// Trust keys the registry serves that are not trusted already.
        public var trustRegistryKeys: Bool

        public init(policy: Policy = .record, keysFile: String? = nil, trustRegistryKeys: Bool = false) {
            self.policy = policy
            self.keysFile = keysFile
            self.trustRegistryKeys = trustRegistryKeys
        }
    }

    /// `npm-mirror serve`.
    public struct Serve: Sendable, Equatable {
        public var host: String
        public var port: Int
        /// The base of served tarball URLs, without a trailing slash; nil: from the request's `Host`.
        public var publicURL: String?
        /// `SERVE_MIN_AGE`: versions published less than this long ago are not served; nil: off.
        public var minimumAge: Duration?
        /// `SERVE_FAST_PATH`.
        public var fastPath: Bool
        /// `SERVE_FAST_PATH_CACHE`, in bytes.
        public var fastPathCacheBytes: Int64
    }

    /// `npm-mirror reconcile` and its periodic run beside the producer.
    public struct Reconcile: Sendable, Equatable {
        /// How often the producer process reconciles; nil: never.
        public var interval: Duration?
        public var pageSize: Int
        /// Most `_all_docs` requests per second; nil: no limit.
        public var requestsPerSecond: Double?
    }

    public var startSequence: StartSequence
    public var kafka: Kafka
    public var registry: Registry
    public var storage: Storage
    public var records: Records
    public var metricsPort: Int
    /// Where the final metrics are written on exit, if anywhere.
    public var metricsFile: String?
    public var lagThreshold: Int
    public var producer: Producer
    public var consumer: Consumer
    public var serve: Serve
    public var reconcile: Reconcile
    /// Deadline of one HTTP request to the registry.
    public var httpTimeout: Duration
    public var logLevel: String
    /// Which source each setting's value came from.
    public var sources: [Setting: ConfigurationSource]
    /// The value of every setting as text (secrets included: print ``redactedSummary`` instead).
    public var rawValues: [Setting: String]

    /// Every setting with its value and source, secrets shown as `<redacted>`: safe to log.
    public var redactedSummary: [(setting: Setting, value: String, source: ConfigurationSource)] {
        Setting.allCases.map { setting in
            let value = rawValues[setting].map { setting.isSecret ? "<redacted>" : $0 } ?? "(unset)"
            return (setting, value, sources[setting] ?? .defaultValue)
        }
    }
}
