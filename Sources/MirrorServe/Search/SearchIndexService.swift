import CoreMetrics
import Logging
import MirrorRecords
import MirrorRuntime
import ServiceLifecycle

/// Keeps a ``CouchDBSearchIndex`` current while `npm-mirror serve` runs: a pass over CouchDB's
/// `_changes` every `interval` (the first builds the index), until a graceful shutdown. A pass that
/// fails is logged and tried again after a backoff; serving goes on meanwhile (search answers 503
/// while the index was never built, and from the last pass once it was).
///
/// Metrics:
/// - `npm_mirror_serve_search_index_built`: 1 once the index has been built, 0 before.
/// - `npm_mirror_serve_search_index_pending`: changes CouchDB still had after the last page read.
/// - `npm_mirror_serve_search_index_changes_total`: changes read from CouchDB.
/// - `npm_mirror_serve_search_index_errors_total`: passes that failed.
public struct SearchIndexService: Service {
    let index: CouchDBSearchIndex
    let interval: Duration
    let factory: any MetricsFactory
    let logger: Logger

    public init(index: CouchDBSearchIndex, interval: Duration = .seconds(5), metricsFactory: any MetricsFactory, logger: Logger) {
        self.index = index
        self.interval = interval
        self.factory = metricsFactory
        self.logger = logger
    }

    public func run() async throws {
        let built = Gauge(label: "npm_mirror_serve_search_index_built", factory: factory)
        let pending = Gauge(label: "npm_mirror_serve_search_index_pending", factory: factory)
        let changes = Counter(label: "npm_mirror_serve_search_index_changes_total", factory: factory)
        let errors = Counter(label: "npm_mirror_serve_search_index_errors_total", factory: factory)
        errors.increment(by: 0)
        changes.increment(by: 0)
        var wasBuilt = index.progress.built
        built.record(wasBuilt ? 1 : 0)
        if !wasBuilt {
            logger.notice("building the search index from CouchDB's changes", metadata: ["search.index": "\(index.path)"])
        }
        var backoff = Backoff(base: .seconds(1), cap: .seconds(60))
        while !Task.isCancelled && !Task.isShuttingDownGracefully {
            var wait = interval
            do {
                let read = try await cancelledByGracefulShutdown { try await index.catchUp() }
                backoff.reset()
                changes.increment(by: read)
                let progress = index.progress
                pending.record(progress.pending ?? 0)
                if progress.built && !wasBuilt {
                    wasBuilt = true
                    built.record(1)
                    logger.notice("search index built", metadata: ["search.changes": "\(progress.changesRead)", "search.packages": "\(progress.packagesCopied)"])
                }
            } catch {
                if Task.isCancelled || Task.isShuttingDownGracefully { break }
                errors.increment()
                wait = backoff.next()
                logger.warning("search index pass failed; trying again", metadata: ["error": "\(error)", "retry.in": "\(wait)"])
            }
            do {
                try await cancelledByGracefulShutdown { [wait] in try await Task.sleep(for: wait) }
            } catch {
                break
            }
        }
    }
}
