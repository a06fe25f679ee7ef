import CoreMetrics
import Foundation
import Hummingbird
import HummingbirdCore
import Logging
import MirrorRecords
import MirrorStore
import NIOCore
import MirrorRuntime
import ServiceLifecycle
import Synchronization

/// `npm-mirror serve`: the mirror's store as a read-only npm registry.
///
/// | Request | Answer |
/// | --- | --- |
/// | `GET`/`HEAD /{name}` (`/@scope%2fname`, `/@scope%2Fname`, `/@scope/name`) | the full packument, or the abbreviated one for `Accept: application/vnd.npm.install-v1+json` |
/// | `GET /{name}/{version-or-tag}` | that version's document |
/// | `GET`/`HEAD /{name}/-/{basename}-{version}.tgz` (also scoped, also `%2f`) | the tarball, streamed |
/// | `GET /-/ping` | `{}` |
/// | `GET /-/v1/search?text=&size=&from=` | npm's search shape over the package records |
/// | `POST /-/npm/v1/security/advisories/bulk`, `/-/npm/v1/security/audits/quick` | 501 with a JSON error |
/// | any other method | 405 with `Allow` |
///
/// Packuments are never parsed per request: ``ServedDocuments`` derives them once per stored
/// revision into files beside the packument, and answers stream those files.
public final class RegistryServer: Service, Sendable {
    let core: RegistryServerCore

    /// - Throws: ``ServeError`` when the store folder does not exist, ``StoreError`` when the store cannot be opened.
    /// `search` answers `/-/v1/search` (nil: the record store's own `packageRecords(matching:)`).
    public init(
        configuration: ServeConfiguration, records: (any RecordStore)?, search: (any PackageMatching)? = nil, metricsFactory: any MetricsFactory, logger: Logger
    ) throws {
        var configuration = configuration
        while configuration.publicURL?.hasSuffix("/") == true { configuration.publicURL?.removeLast() }
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: configuration.storeDirectory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw ServeError.invalidConfiguration("REMOTE_PACKAGE_DIR \(configuration.storeDirectory) is not a folder: there is no store to serve")
        }
        let store = try PackageStore(root: configuration.storeDirectory, scratch: configuration.scratchDirectory, shardLength: configuration.shardLength)
        core = RegistryServerCore(
            configuration: configuration, store: store, records: records, search: search ?? records, metrics: ServeMetrics(factory: metricsFactory), logger: logger)
    }

    /// The port it listens on, once it does.
    public var port: Int? { core.listeningPort.value }

    /// Waits until the server listens and returns its port (nil if it stopped first).
    public func waitUntilListening() async -> Int? {
        try? await core.listeningPort.wait()
    }

    public func run() async throws {
        let configuration = core.configuration
        let stall = TimeAmount(configuration.writeStallTimeout)
        let idle = TimeAmount(configuration.idleTimeout)
        let fastPath = core.fastAnswers.map { FastPath(core: core, answers: $0, dates: HTTPDateCache()) }
        let application = Application(
            responder: RegistryResponder(server: core),
            server: HTTPServerBuilder { responder in
                RegistryChannel(responder: responder, fastPath: fastPath, idleTimeout: idle, writeStallTimeout: stall)
            },
            configuration: ApplicationConfiguration(
                address: .hostname(configuration.host, port: configuration.port),
                serverName: "npm-mirror",
                availableConnectionsDelegate: MaximumAvailableConnections(configuration.maximumConnections, logger: core.logger)
            ),
            onServerRunning: { [core] channel in
                let port = channel.localAddress?.port ?? configuration.port
                core.listeningPort.bound(port)
                core.logger.notice(
                    "Serving the mirror as an npm registry",
                    metadata: ["serve.url": "http://\(configuration.host):\(port)", "serve.store": "\(configuration.storeDirectory)"]
                )
            },
            logger: core.logger
        )
        // `run()` follows the enclosing service group's graceful shutdown.
        do {
            try await application.run()
            core.listeningPort.ended()
        } catch {
            core.listeningPort.ended(error)
            throw error
        }
    }
}

/// Closes a connection whose writes have made no progress for `timeout`: a client that stopped
/// reading (its socket buffer is full, so no write completes). Only a connection with a write pending
/// is judged: an answer the server is still working out is not a stall, and a connection idle
/// between requests is Hummingbird's `idleTimeout`'s. Others are served meanwhile: nothing here blocks.
final class WriteStallHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = NIOAny
    typealias OutboundIn = NIOAny
    typealias OutboundOut = NIOAny

    let timeout: TimeAmount
    /// Writes handed on whose promises have not completed.
    private var pending = 0
    /// When a write last completed, or the first pending one was made.
    private var lastProgress = NIODeadline.now()
    private var check: Scheduled<Void>?

    init(timeout: TimeAmount) {
        self.timeout = timeout
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if pending == 0 {
            lastProgress = .now()
            scheduleCheck(context: context, in: timeout)
        }
        pending += 1
        let completion = promise ?? context.eventLoop.makePromise()
        let handler = NIOLoopBound(self, eventLoop: context.eventLoop)
        completion.futureResult.hop(to: context.eventLoop).whenComplete { _ in
            handler.value.pending -= 1
            handler.value.lastProgress = .now()
        }
        context.write(data, promise: completion)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        check?.cancel()
        check = nil
        context.fireChannelInactive()
    }

    private func scheduleCheck(context: ChannelHandlerContext, in delay: TimeAmount) {
        check?.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        check = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = loopBound.value
            handler.check = nil
            guard handler.pending > 0 else { return }
            let stalled = NIODeadline.now() - handler.lastProgress
            if stalled >= handler.timeout {
                context.close(promise: nil)
            } else {
                handler.scheduleCheck(context: context, in: handler.timeout - stalled)
            }
        }
    }
}
