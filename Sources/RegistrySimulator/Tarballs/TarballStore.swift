import Foundation
import NIOCore
import Synchronization

/// Where a tarball's bytes come from.
enum TarballSource: Sendable, Hashable {
    /// Built from a spec, deterministically.
    case generated(TarballSpec)
    /// Read from a file (`--from DIR`).
    case file(path: String)
}

/// Builds tarballs on first use and keeps them in memory.
///
/// Digests (`TarballInfo`) are kept for every tarball ever built, so packuments never
/// need the bytes twice; the bytes themselves are kept up to `byteLimit` (oldest
/// evicted first) and rebuilt — identically — when asked for again. Concurrent
/// requests for a tarball being built wait for the one build.
final class TarballStore: Sendable {
    private struct State {
        var infos: [TarballSource: TarballInfo] = [:]
        var bytes: [TarballSource: ByteBuffer] = [:]
        /// Cached sources, oldest first, from `evictionHead` on.
        var insertionOrder: [TarballSource] = []
        var evictionHead = 0
        var cachedBytes = 0
        var inFlight: [TarballSource: Task<BuiltTarball, any Error>] = [:]
        var builds = 0
    }

    private let state = Mutex(State())
    let byteLimit: Int

    init(byteLimit: Int) {
        self.byteLimit = byteLimit
    }

    /// How many tarballs have been built (tests check laziness and caching with it).
    var buildCount: Int {
        self.state.withLock { $0.builds }
    }

    func tarball(_ source: TarballSource) async throws -> BuiltTarball {
        enum Lookup {
            case hit(BuiltTarball)
            case wait(Task<BuiltTarball, any Error>, owner: Bool)
        }
        let lookup = self.state.withLock { state -> Lookup in
            if let bytes = state.bytes[source], let info = state.infos[source] {
                return .hit(BuiltTarball(bytes: bytes, info: info))
            }
            if let task = state.inFlight[source] {
                return .wait(task, owner: false)
            }
            state.builds += 1
            let task = Task<BuiltTarball, any Error> { try Self.build(source) }
            state.inFlight[source] = task
            return .wait(task, owner: true)
        }
        switch lookup {
        case .hit(let built):
            return built
        case .wait(let task, let owner):
            let result = await task.result
            if owner {
                self.state.withLock { state in
                    state.inFlight[source] = nil
                    if case .success(let built) = result {
                        self.insert(built, for: source, into: &state)
                    }
                }
            }
            return try result.get()
        }
    }

    func info(_ source: TarballSource) async throws -> TarballInfo {
        if let info = self.state.withLock({ $0.infos[source] }) {
            return info
        }
        return try await self.tarball(source).info
    }

    private func insert(_ built: BuiltTarball, for source: TarballSource, into state: inout State) {
        state.infos[source] = built.info
        let size = built.bytes.readableBytes
        guard size <= self.byteLimit, state.bytes[source] == nil else { return }
        while state.cachedBytes + size > self.byteLimit, state.evictionHead < state.insertionOrder.count {
            let evicted = state.insertionOrder[state.evictionHead]
            state.evictionHead += 1
            state.cachedBytes -= state.bytes.removeValue(forKey: evicted)?.readableBytes ?? 0
        }
        if state.evictionHead > 4096 && state.evictionHead * 2 > state.insertionOrder.count {
            state.insertionOrder.removeFirst(state.evictionHead)
            state.evictionHead = 0
        }
        state.bytes[source] = built.bytes
        state.insertionOrder.append(source)
        state.cachedBytes += size
    }

    private static func build(_ source: TarballSource) throws -> BuiltTarball {
        switch source {
        case .generated(let spec):
            return try TarballBuilder.build(spec)
        case .file(let path):
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            let bytes = ByteBuffer(bytes: data)
            return BuiltTarball(bytes: bytes, info: TarballInfo(bytes: bytes, fileCount: 0, unpackedSize: 0))
        }
    }
}
