import Foundation
import Hummingbird
import Logging
import NIOCore
import Prometheus
import ServiceLifecycle

/// Serves `GET /metrics` (Prometheus text format) and `GET /health` on `METRICS_PORT`.
/// Port 0 picks a free port; the chosen port is logged and available as ``port``.
public final class MetricsEndpoint: Service, Sendable {
    private let registry: PrometheusCollectorRegistry
    private let host: String
    private let requestedPort: Int
    private let snapshotPath: String?
    private let logger: Logger
    private let listeningPort = ListeningPort()

    /// `snapshotPath` (`METRICS_FILE`): where ``writeSnapshot()`` puts the final metrics.
    public init(registry: PrometheusCollectorRegistry, host: String = "0.0.0.0", port: Int, snapshotPath: String? = nil, logger: Logger) {
        self.registry = registry
        self.snapshotPath = snapshotPath
        self.host = host
        self.requestedPort = port
        self.logger = logger
    }

    /// The port it listens on, once it does.
    public var port: Int? { listeningPort.value }

    /// Waits until the endpoint listens and returns its port (nil if it stopped first).
    public func waitUntilListening() async -> Int? {
        try? await listeningPort.wait()
    }

    public func run() async throws {
        let router = Router()
        router.get("metrics") { [registry] _, _ -> Response in
            var buffer = ByteBuffer()
            buffer.writeBytes(registry.emitToBuffer())
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: buffer)
            )
        }
        router.get("health") { _, _ in "ok\n" }
        let application = Application(
            router: router,
            configuration: ApplicationConfiguration(address: .hostname(host, port: requestedPort), serverName: "npm-mirror-metrics"),
            onServerRunning: { [self] channel in
                let port = channel.localAddress?.port ?? 0
                listeningPort.bound(port)
                logger.notice("Metrics at http://\(channel.localAddress?.ipAddress ?? "0.0.0.0"):\(port)/metrics")
            },
            logger: logger
        )
        // `run()` follows the enclosing service group's graceful shutdown; `runService()` would catch signals itself.
        do {
            try await application.run()
            listeningPort.ended()
        } catch {
            listeningPort.ended(error)
            throw error
        }
    }

    /// Writes every metric's current value, in the text format `/metrics` serves, to the snapshot
    /// path (atomically), if one is set. Called as the process stops, so a run that ends before
    /// anyone scrapes it still leaves its figures behind.
    public func writeSnapshot() {
        guard let snapshotPath else { return }
        do {
            // Written beside and renamed into place: a reader never sees half a file.
            try Data(registry.emitToBuffer()).write(to: URL(fileURLWithPath: snapshotPath), options: .atomic)
        } catch {
            logger.error("Could not write the metrics file", metadata: ["path": "\(snapshotPath)", "error": "\(error)"])
        }
    }
}
