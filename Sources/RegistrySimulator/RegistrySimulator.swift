import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Synchronization

/// An npm registry simulator: the replicate service (`GET /`, `GET /registry/_changes`,
/// `GET /registry/_all_docs`) and the registry service (packuments, tarballs) on loopback, with fault injection.
///
/// A `Service`: `run()` serves until graceful shutdown (or cancellation). Tests use the scope, which
/// runs it beside the body and stops it when the body ends:
///
/// ```swift
/// var configuration = RegistrySimulator.Configuration()
/// configuration.packages = 200
/// try await withRegistrySimulator(configuration: configuration) { sim in
///     // sim.replicateURL, sim.registryURL → NPM_REPLICATE_URL, NPM_REGISTRY_URL
///     sim.faults.add(FaultRule(kind: .rateLimited, targets: [.changes], count: 2))
///     try sim.publish(.newVersion())
/// }
/// ```
public final class RegistrySimulator: Service, Sendable {
    /// Base URL of the replicate service, without a trailing slash (`http://127.0.0.1:PORT`);
    /// set once `listening()` has returned.
    public var replicateURL: String { self.core.replicateURL }
    /// Base URL of the registry service, without a trailing slash; set once `listening()` has returned.
    public var registryURL: String { self.core.registryURL }
    /// Run-time fault control.
    public let faults: FaultController
    /// Generated packages by kind (empty when serving a directory).
    public var notablePackages: NotablePackages { self.core.notable }

    /// The keys the simulator's `/-/npm/v1/keys` serves (its current key and a retired one), for a
    /// mirror that should trust them (`NPM_SIGNING_KEYS`): the document's bytes.
    public var signingKeysDocument: [UInt8] { self.core.signing.keysDocument }

    /// Whether the versions of `name` carry `dist.attestations` (every fourth package, by a hash of
    /// its name, and those given an attestation fault).
    public func hasAttestations(_ name: String) -> Bool {
        self.core.signing.hasAttestations(name: name)
    }

    /// Makes the signatures or attestations of `name` go wrong (nil: right again). Its documents are
    /// rendered again; publish a new version to announce the change.
    public func setSignatureFault(_ fault: SignatureFault?, for name: String) {
        self.core.signing.setFault(fault, for: name)
        self.core.packuments.forget(name)
    }

    let core: SimulatorCore
    private let services: [any Service]
    private let ports: ListeningPorts
    private let logger: Logger

    /// Builds the registry (generated or from `configuration.directory`); nothing listens until `run()`.
    public init(
        configuration: Configuration = Configuration(),
        logger: Logger = Logger(label: "npm-registry-sim")
    ) throws {
        try configuration.validate()
        let core = try SimulatorCore(configuration: configuration)
        let ports = ListeningPorts { registryPort, replicatePort in
            let urlHost = Self.urlHost(configuration.host)
            let registryURL = configuration.publicRegistryURL ?? "http://\(urlHost):\(registryPort)"
            let replicateURL = "http://\(urlHost):\(replicatePort)"
            core.setBaseURLs(registry: registryURL, replicate: replicateURL)
            logger.info(
                "registry simulator listening",
                metadata: ["sim.registry_url": "\(registryURL)", "sim.replicate_url": "\(replicateURL)"]
            )
        }
        var services: [any Service] = [
            Self.application(.registry, core: core, host: configuration.host, port: configuration.registryPort, ports: ports, logger: logger),
            Self.application(.replicate, core: core, host: configuration.host, port: configuration.replicatePort, ports: ports, logger: logger),
        ]
        if configuration.publishRate > 0 {
            services.append(LivePublisher.Service(publisher: core.publisher, rate: configuration.publishRate))
        }
        self.core = core
        self.services = services
        self.ports = ports
        self.logger = logger
        self.faults = FaultController(core: core)
    }

    /// Serves both services (and the live publisher) until graceful shutdown or cancellation; in-flight
    /// requests finish. Throws a server failure, e.g. a port already in use. Runs once.
    public func run() async throws {
        // A service group follows the graceful shutdown of the task it runs in.
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: self.services, logger: self.logger))
        do {
            try await group.run()
        } catch {
            self.ports.end(error)
            throw error
        }
        self.ports.end(RegistrySimulatorError.startFailed("a server stopped before it was listening"))
    }

    /// Returns once both services accept connections (then `replicateURL` and `registryURL` are set);
    /// throws if `run()` ended before that.
    public func listening() async throws {
        try await self.ports.wait()
    }

    // MARK: Observing

    /// Request counters since start (or the last `resetRequestCounts()`), admin requests excluded.
    public var requestCounts: RequestStats {
        self.core.log.stats(faults: self.core.faults.firedCounts)
    }

    /// Requests served since start (or the last `resetRequestCounts()`): `requestCounts.total`
    /// without copying the per-path counts, so it can be polled.
    public var requestTotal: Int {
        self.core.log.total
    }

    /// The latest requests, oldest first.
    public func recentRequests(limit: Int = 1000) -> [RequestRecord] {
        self.core.log.recent(limit: limit)
    }

    public func resetRequestCounts() {
        self.core.log.reset()
    }

    /// `update_seq`: the feed's head (advances even while the feed is stalled).
    public var updateSeq: Int {
        self.core.model.databaseInfo().updateSeq
    }

    /// `doc_count`: documents that are not deleted.
    public var docCount: Int {
        self.core.model.databaseInfo().docCount
    }

    /// Every document name, in creation order (deleted ones included).
    public var packageNames: [String] {
        self.core.model.packageNames
    }

    /// The ids of the design documents `_all_docs` lists besides the packages (`_design/app`,
    /// `_design/scratch`); the feed and `doc_count` leave them out.
    public var designDocumentIDs: [String] {
        RegistryModel.designDocuments.map(\.id)
    }

    /// The current `_rev` of `name` (ignores replica lag).
    public func currentRev(of name: String) -> String? {
        self.core.model.currentRevision(of: name)?.rev
    }

    /// How many tarballs have been built so far (they are built lazily, then cached).
    public var tarballBuildCount: Int {
        self.core.tarballs.buildCount
    }

    // MARK: Changing

    /// Applies one live change and returns what it did (`nil` if it could not apply,
    /// e.g. a deletion of a package that does not exist).
    @discardableResult
    public func publish(_ change: LiveChange = .random) throws -> PublishedChange? {
        try self.core.publisher.publish(change)
    }

    /// Applies one change to the documents without announcing it in `_changes`: the feed never sees
    /// it. Packuments, tarballs and `_all_docs` show it as they would an announced change (a new
    /// package or revision is listed with its new rev and served normally; a deletion is unlisted and
    /// its packument is 404, after the replica lag if one is set); `_changes` keeps the package's earlier entry, if it had one, and
    /// `update_seq` does not move (the change takes no seq). `doc_count` follows the documents.
    ///
    /// This is also the change that was published but whose feed entry was lost: no reader can tell
    /// the two apart, so one method serves both. Returns `nil` when the change could not apply (no
    /// such package, nothing to move, a name starting with `_`).
    @discardableResult
    public func publishUnannounced(_ change: LiveChange) throws -> UnannouncedChange? {
        try self.core.publisher.publishUnannounced(change)
    }

    /// Deletes `name` entirely without announcing it in `_changes` (`publishUnannounced(.deletion(of:))`):
    /// it leaves `_all_docs`, its packument and tarballs are 404, and the feed still shows its earlier
    /// entry. `nil` when there is no such live package.
    @discardableResult
    public func deleteUnannounced(_ name: String) throws -> UnannouncedChange? {
        try self.publishUnannounced(.deletion(of: name))
    }

    /// Applies `count` random live changes.
    @discardableResult
    public func advance(by count: Int) throws -> [PublishedChange] {
        try (0..<count).compactMap { _ in try self.core.publisher.publish(.random) }
    }

    /// How long the registry serves a package's previous revision after a change.
    public var replicaLag: Duration {
        get { self.core.model.replicaLag }
        set { self.core.model.replicaLag = newValue }
    }

    // MARK: Wiring

    private static func application(
        _ service: ServiceKind,
        core: SimulatorCore,
        host: String,
        port: Int,
        ports: ListeningPorts,
        logger: Logger
    ) -> Application<SimulatorResponder> {
        Application(
            responder: SimulatorResponder(service: service, core: core),
            configuration: ApplicationConfiguration(
                address: .hostname(host, port: port),
                serverName: "npm-registry-sim"
            ),
            onServerRunning: { channel in
                ports.bound(service, port: channel.localAddress?.port ?? port)
            },
            logger: logger
        )
    }

    private static func urlHost(_ host: String) -> String {
        switch host {
        case "0.0.0.0", "": return "127.0.0.1"
        case "::": return "[::1]"
        default: return host.contains(":") ? "[\(host)]" : host
        }
    }
}

/// Run-time control of faults (the in-process twin of `/-/admin/faults`).
public struct FaultController: Sendable {
    let core: SimulatorCore

    /// Adds rules after the existing ones (the first matching rule that fires wins).
    public func add(_ rules: [FaultRule]) {
        self.core.faults.add(rules)
    }

    public func add(_ rule: FaultRule) {
        self.core.faults.add([rule])
    }

    /// Never more than `limit` faults in a row for one path (nil: no limit): like a real registry's
    /// passing trouble, a request retried often enough gets through.
    public func limitFaultsInARow(_ limit: Int?) {
        self.core.faults.limitFaultsInARow(limit)
    }

    /// Removes every rule (feed state is left alone).
    public func removeAll() {
        self.core.faults.removeAll()
    }

    /// Active rules (rules whose `count` is used up are gone).
    public var rules: [FaultRule] {
        self.core.faults.rules
    }

    /// Times each fault kind has fired, by `FaultKind.rawValue`.
    public var firedCounts: [String: Int] {
        self.core.faults.firedCounts
    }

    /// Freezes `_changes` at the current head; `update_seq` keeps advancing.
    public func stallFeed(_ stalled: Bool = true) {
        self.core.model.setStalled(stalled)
    }

    public var isFeedStalled: Bool {
        self.core.model.isStalled
    }

    /// Renumbers the feed from 1 now, so it jumps backwards; returns the new `update_seq`.
    @discardableResult
    public func resetSequence() -> Int {
        self.core.model.resetSequence()
    }
}
