import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MirrorJSON
import MirrorRuntime
import NIOCore
import ServiceLifecycle
import Synchronization
import NPMNames

/// An in-process CouchDB 3.x for tests: an HTTP server on 127.0.0.1 (an ephemeral port) that answers the
/// requests a record store makes the way CouchDB 3.5.0 does (see `CouchDBModel`), with fault hooks.
///
/// A `Service`: `run()` keeps the double until graceful shutdown (or cancellation), then stops it. Tests
/// use the scope, which stops it when the body ends:
///
/// ```swift
/// try await withCouchDBDouble(adminUser: "admin", adminPassword: "secret") { double in
///     let store = try CouchDBRecordStore(url: double.url, database: "db", user: "admin", password: "secret")
/// }
/// ```
public actor CouchDBDouble: Service {
    /// How the double is unreachable while down.
    public enum Outage: Sendable {
        /// The listener is closed: connecting fails with "connection refused".
        case refuseConnections
        /// Connections are accepted and each request is answered by closing the connection.
        case closeConnections
    }

    /// `http://127.0.0.1:<port>`, no credentials; meaningful once the double listens (inside
    /// `withCouchDBDouble`'s body it does).
    public nonisolated var url: URL { URL(string: "http://127.0.0.1:\(port)")! }
    /// The port it listens on (0 before `run()` has bound one); kept across outages.
    public nonisolated var port: Int { listeningPort.value ?? 0 }
    public nonisolated let adminUser: String
    public nonisolated let adminPassword: String

    private nonisolated let state: DoubleState
    private nonisolated let listeningPort = ListeningPort()
    private let logger: Logger
    private var server: RunningServer?
    private var stopped = false

    /// A double with one server admin and no databases. Nothing listens until `run()`.
    public init(
        adminUser: String = "admin",
        adminPassword: String = "admin",
        logger: Logger = Logger(label: "couchdb-double", factory: { _ in SwiftLogNoOpLogHandler() })
    ) {
        self.adminUser = adminUser
        self.adminPassword = adminPassword
        self.state = DoubleState(model: CouchDBModel(adminUser: adminUser, adminPassword: adminPassword))
        self.logger = logger
    }

    /// Listens on an ephemeral port of 127.0.0.1 (outages aside) until graceful shutdown or
    /// cancellation, then stops, waiting for requests in flight. The listener is this call's: an
    /// outage closes it and `comeBack()` opens it again on the same port, but never after the end.
    public func run() async throws {
        do {
            let server = try await RunningServer.start(port: 0, state: state, logger: logger)
            self.server = server
            listeningPort.bound(server.port)
        } catch {
            listeningPort.ended(error)
            throw error
        }
        try? await gracefulShutdown()
        self.stopped = true
        await self.server?.stop()
        self.server = nil
    }

    /// Returns once the double listens; throws if `run()` failed first.
    public nonisolated func listening() async throws {
        _ = try await listeningPort.wait()
    }

    // MARK: Faults

    /// Makes the double unreachable until `comeBack()`. Data is kept.
    public func goDown(_ outage: Outage = .refuseConnections) async {
        switch outage {
        case .refuseConnections:
            await self.server?.stop()
            self.server = nil
        case .closeConnections:
            self.state.storage.withLock { $0.closeConnections = true }
        }
    }

    /// Ends an outage: listens again on the same port and answers normally.
    public func comeBack() async throws {
        self.state.storage.withLock { $0.closeConnections = false }
        if self.server == nil, !self.stopped, let port = listeningPort.value {
            self.server = try await RunningServer.start(port: port, state: self.state, logger: self.logger)
        }
    }

    /// Delays every answer by `delay` (nil: no delay).
    public nonisolated func setDelay(_ delay: Duration?) {
        self.state.storage.withLock { $0.delay = delay }
    }

    /// Answers the next `count` requests with `status` and a CouchDB error body instead of handling them.
    public nonisolated func failNextRequests(
        _ count: Int,
        status: Int = 503,
        error: String = "service_unavailable",
        reason: String = "Service unavailable (injected by the CouchDB double)"
    ) {
        self.state.storage.withLock { $0.injectedFailures = InjectedFailure(remaining: count, status: status, error: error, reason: reason) }
    }

    /// "409 storm": the next `writes` writes of document `id` (PUT, DELETE or in `_bulk_docs`) each find the document
    /// just updated by someone else (a real new revision), so a write with the revision read before conflicts.
    public nonisolated func conflictStorm(database: String, id: String, writes: Int) {
        self.state.storage.withLock { $0.model.conflictStorms[CouchDBModel.key(database, id)] = writes }
    }

    /// The next `times` writes of document `id` inside `_bulk_docs` answer `{"id", "error", "reason"}` for that
    /// document alone (nothing written), as CouchDB does for e.g. a `validate_doc_update` rejection.
    public nonisolated func failDocument(
        database: String,
        id: String,
        error: String = "forbidden",
        reason: String = "rejected by the CouchDB double",
        times: Int = 1
    ) {
        self.state.storage.withLock {
            $0.model.documentErrors[CouchDBModel.key(database, id)] = .init(error: error, reason: reason, remaining: times)
        }
    }

    // MARK: Inspection

    /// Requests received so far, as `METHOD /path` (path percent-encoded, query removed).
    public nonisolated var requestLog: [String] {
        self.state.storage.withLock { $0.requestLog }
    }

    public nonisolated func clearRequestLog() {
        self.state.storage.withLock { $0.requestLog.removeAll() }
    }

    /// The current revision of a document (nil when missing), read directly.
    public nonisolated func revision(database: String, id: String) -> String? {
        self.state.storage.withLock { $0.model.databases[database]?.documents[id]?.rev }
    }
}

/// What the server's request handler shares with the actor's fault hooks.
final class DoubleState: Sendable {
    struct Storage: Sendable {
        var model: CouchDBModel
        var delay: Duration? = nil
        var closeConnections = false
        var injectedFailures: InjectedFailure? = nil
        var requestLog: [String] = []
    }

    let storage: Mutex<Storage>

    init(model: CouchDBModel) {
        self.storage = Mutex(Storage(model: model))
    }
}

struct InjectedFailure: Sendable {
    var remaining: Int
    var status: Int
    var error: String
    var reason: String
}

/// The Hummingbird application of one listening period.
final class RunningServer: Sendable {
    let port: Int
    private let group: ServiceGroup
    private let task: Task<Void, any Error>

    private init(port: Int, group: ServiceGroup, task: Task<Void, any Error>) {
        self.port = port
        self.group = group
        self.task = task
    }

    static func start(port: Int, state: DoubleState, logger: Logger) async throws -> RunningServer {
        let listening = ListeningPort()
        let responder = CallbackResponder<DoubleRequestContext> { request, context in
            try await DoubleResponder.respond(to: request, channel: context.channel, state: state)
        }
        let app = Application(
            responder: responder,
            configuration: ApplicationConfiguration(address: .hostname("127.0.0.1", port: port), serverName: "CouchDB/3.5.0 (Erlang OTP/26)"),
            onServerRunning: { channel in listening.bound(channel.localAddress?.port ?? 0) },
            logger: logger
        )
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let task = Task {
            do {
                try await group.run()
                listening.ended()
            } catch {
                listening.ended(error)  // e.g. the port is taken: `start` rethrows it
                throw error
            }
        }
        return RunningServer(port: try await listening.wait(), group: group, task: task)
    }

    func stop() async {
        await self.group.triggerGracefulShutdown()
        try? await self.task.value
    }
}

/// Request context that keeps the channel, so an outage can close it.
struct DoubleRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        self.coreContext = .init(source: source)
        self.channel = source.channel
    }
}

/// Adapts HTTP requests to `CouchDBModel` and applies the HTTP-level faults.
enum DoubleResponder {
    static let maxBodyBytes = 64 * 1024 * 1024

    static func respond(to request: Request, channel: any Channel, state: DoubleState) async throws -> Response {
        let target = request.head.path ?? "/"
        let rawPath = String(target.prefix { $0 != "?" })
        let (delay, closing) = state.storage.withLock { storage in
            storage.requestLog.append("\(request.method.rawValue) \(rawPath)")
            return (storage.delay, storage.closeConnections)
        }
        if let delay { try await Task.sleep(for: delay) }
        if closing {
            try? await channel.close()
            throw ChannelError.ioOnClosedChannel
        }
        let body = try await request.body.collect(upTo: Self.maxBodyBytes)
        let modelRequest = CouchDBModel.Request(
            method: request.method.rawValue,
            rawPath: rawPath,
            segments: rawPath.split(separator: "/", omittingEmptySubsequences: true).map { URLEncoding.decoded($0) ?? String($0) },
            query: Self.query(target),
            credentials: Self.credentials(request.headers[.authorization]),
            ifMatch: request.headers[.ifMatch],
            host: request.head.authority ?? "127.0.0.1",
            body: Array(body.readableBytesView)
        )
        let answer: CouchDBModel.Response = state.storage.withLock { storage in
            if var injected = storage.injectedFailures, injected.remaining > 0 {
                injected.remaining -= 1
                storage.injectedFailures = injected.remaining > 0 ? injected : nil
                return CouchDBModel.error(injected.status, injected.error, injected.reason)
            }
            return storage.model.handle(modelRequest)
        }
        return Self.response(answer, isHead: request.method == .head)
    }

    static func response(_ answer: CouchDBModel.Response, isHead: Bool) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "application/json"
        headers[.cacheControl] = "must-revalidate"
        if let etag = answer.etag { headers[.eTag] = "\"\(etag)\"" }
        if let location = answer.location { headers[.location] = location }
        let bytes = answer.json.map { $0.serializedBytes + [UInt8(ascii: "\n")] } ?? []
        if isHead {
            headers[.contentLength] = String(bytes.count)
            return Response(status: .init(code: answer.status), headers: headers, body: ResponseBody())
        }
        return Response(status: .init(code: answer.status), headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    }

    static func credentials(_ header: String?) -> CouchDBModel.Request.Credentials {
        guard let header, header.lowercased().hasPrefix("basic "),
            let data = Data(base64Encoded: String(header.dropFirst(6)).trimmingCharacters(in: .whitespaces)),
            let decoded = String(data: data, encoding: .utf8), let colon = decoded.firstIndex(of: ":")
        else { return .none }
        return .basic(user: String(decoded[..<colon]), password: String(decoded[decoded.index(after: colon)...]))
    }

    /// The query's names and values (the last of a name given twice wins).
    static func query(_ target: String) -> [String: String] {
        Dictionary(QueryString.split(target).query.items, uniquingKeysWith: { $1 })
    }
}
