import Foundation
import Logging
import MirrorPipeline
import ServiceLifecycle
import MirrorRuntime

/// Says what the mirror is doing: a log line every `interval` (seq, registry head, lag, rate,
/// packages and bytes stored), and, when stderr is a terminal, a live line refreshed every second.
struct ProgressReporter: Service {
    let producer: ChangesProducerService?
    let consumers: [ChangesConsumerService]
    let interval: Duration
    let logger: Logger

    func run() async throws {
        let live = isatty(STDERR_FILENO) == 1
        var lastLog = ContinuousClock.now
        var lastCount = 0
        var lastTime = ContinuousClock.now
        while !Task.isShuttingDownGracefully {
            do {
                try await cancelledByGracefulShutdown { try await Task.sleep(for: .seconds(1)) }
            } catch {
                break
            }
            let snapshot = self.snapshot()
            let now = ContinuousClock.now
            let elapsed = (now - lastTime) / .seconds(1)
            let rate = elapsed > 0 ? Double(snapshot.processed - lastCount) / elapsed : 0
            if live {
                FileHandle.standardError.write(Data("\r\u{1B}[2K\(snapshot.line(rate: rate))".utf8))
            }
            if now - lastLog >= interval {
                logger.info("Progress", metadata: snapshot.metadata(rate: rate))
                lastLog = now
                lastCount = snapshot.processed
                lastTime = now
            }
        }
        if live { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    struct Snapshot {
        var producedSeq: Int64?
        var registrySeq: Int64?
        var processedSeq: Int64?
        var processed: Int
        var tarballs: Int
        var bytes: Int64

        var lag: Int64? { registrySeq.flatMap { head in producedSeq.map { max(0, head - $0) } } }

        func line(rate: Double) -> String {
            "seq \(producedSeq.map(String.init) ?? "-") of \(registrySeq.map(String.init) ?? "?") (lag \(lag.map(String.init) ?? "?")) | processed \(processed) (\(String(format: "%.0f", rate))/s) up to seq \(processedSeq.map(String.init) ?? "-") | \(tarballs) tarballs, \(ByteCountFormatter.string(fromByteCount: bytes, countStyle: .file))"
        }

        func metadata(rate: Double) -> Logger.Metadata {
            [
                "npm.seq": "\(producedSeq.map(String.init) ?? "-")",
                "npm.update_seq": "\(registrySeq.map(String.init) ?? "-")",
                "lag": "\(lag.map(String.init) ?? "-")",
                "processed": "\(processed)",
                "processed.seq": "\(processedSeq.map(String.init) ?? "-")",
                "rate_per_s": "\(String(format: "%.1f", rate))",
                "tarballs": "\(tarballs)",
                "bytes": "\(bytes)",
            ]
        }
    }

    func snapshot() -> Snapshot {
        let progress = consumers.map(\.progress)
        return Snapshot(
            producedSeq: producer?.progress.acknowledgedSeq,
            registrySeq: producer?.progress.registryUpdateSeq,
            processedSeq: progress.compactMap(\.highestCompleteSeq).max(),
            processed: progress.reduce(0) { $0 + $1.changesProcessed },
            tarballs: progress.reduce(0) { $0 + $1.tarballsStored },
            bytes: progress.reduce(0) { $0 + $1.tarballBytes }
        )
    }
}
