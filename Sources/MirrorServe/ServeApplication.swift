import Logging
import MirrorConfig
import MirrorRecords
import Prometheus
import ServiceLifecycle
import MirrorRuntime
import UnixSignals

/// `npm-mirror serve`: the registry server over the configured store and record store, with the
/// metrics endpoint on `METRICS_PORT`, in one service group.
public struct ServeApplication: Sendable {
    public let configuration: MirrorConfiguration
    public let server: RegistryServer
    public let metricsEndpoint: MetricsEndpoint
    public let metricsRegistry = PrometheusCollectorRegistry()
    /// Where search reads the records from, for people.
    public let recordsLocation: String
    /// With CouchDB records: the local index search answers from, kept current beside the server.
    public let searchIndex: SearchIndexService?

    public init(configuration: MirrorConfiguration, logger: Logger) throws {
        self.configuration = configuration
        let (records, location) = try configuration.records.openStore(logger: logger)
        recordsLocation = location
        let factory = PrometheusMetricsFactory(registry: metricsRegistry)
        // CouchDB cannot search its records without an extra service: search answers from a local
        // index that follows them (the embedded database has its own).
        var index: CouchDBSearchIndex?
        if let couch = records as? CouchDBRecordStore {
            index = try CouchDBSearchIndex(path: configuration.records.searchIndexPath, source: couch, logger: logger)
        }
        searchIndex = index.map { SearchIndexService(index: $0, metricsFactory: factory, logger: logger) }
        server = try RegistryServer(
            configuration: try ServeConfiguration(configuration),
            records: records,
            search: index,
            metricsFactory: factory,
            logger: logger
        )
        metricsEndpoint = MetricsEndpoint(registry: metricsRegistry, port: configuration.metricsPort, snapshotPath: configuration.metricsFile, logger: logger)
    }

    /// Runs until SIGTERM/SIGINT (or `signals`), then stops gracefully.
    public func run(logger: Logger, signals: [UnixSignal] = [.sigterm, .sigint]) async throws {
        var groupConfiguration = ServiceGroupConfiguration(
            services: [
                .init(service: metricsEndpoint),
                .init(service: server, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
            ] + (searchIndex.map { [.init(service: $0)] } ?? []),
            gracefulShutdownSignals: signals,
            logger: logger
        )
        // Responses in flight get 30 s to finish; a client that reads nothing is not waited for.
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(30)
        let group = ServiceGroup(configuration: groupConfiguration)
        defer { metricsEndpoint.writeSnapshot() }
        try await group.run()
    }
}
