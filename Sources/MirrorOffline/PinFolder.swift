import Foundation
import Logging
import MirrorJSON
import MirrorRuntime
import MirrorStore
import Synchronization

/// The pin sets kept in one folder (`UPDATE_SEQ_DIR/pins`, which the producer, the consumers and
/// serve share), one `<id>.json` each, every one written whole by rename.
public struct PinFolder: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// Every pin set, by id; a file that cannot be read is named in `problems` (and left alone).
    public func list() -> (sets: [PinSet], problems: [String]) {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: path) else { return ([], []) }
        var sets: [PinSet] = []
        var problems: [String] = []
        for name in names.sorted() where name.hasSuffix(".json") && !name.hasPrefix(".") {
            do {
                sets.append(try read(path + "/" + name))
            } catch {
                problems.append("\(name): \(error)")
            }
        }
        return (sets, problems)
    }

    /// The pin set stored under `id`; nil when there is none.
    public func set(id: String) throws -> PinSet? {
        guard PinSet.isValidID(id) else { throw PinError("not a pin set id: \(id.prefix(100).debugDescription)") }
        let file = path + "/" + id + ".json"
        guard FileManager.default.fileExists(atPath: file) else { return nil }
        return try read(file)
    }

    /// Writes (or replaces) a pin set.
    public func write(_ set: PinSet) throws {
        guard PinSet.isValidID(set.id) else { throw PinError("not a pin set id: \(set.id.prefix(100).debugDescription)") }
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        try AtomicFile.write(Data(set.json.serializedBytes), to: URL(fileURLWithPath: path + "/" + set.id + ".json"))
    }

    /// Removes a pin set; false when there was none.
    @discardableResult
    public func remove(id: String) throws -> Bool {
        guard PinSet.isValidID(id) else { throw PinError("not a pin set id: \(id.prefix(100).debugDescription)") }
        let file = path + "/" + id + ".json"
        guard FileManager.default.fileExists(atPath: file) else { return false }
        try FileManager.default.removeItem(atPath: file)
        return true
    }

    /// The folder's stamp: it changes whenever a set is written or removed (each is a rename into, or
    /// an unlink from, the folder).
    var stamp: FileStamp? { FileStamp(path) }

    /// The largest pin set file read (a lockfile of 100,000 packages is well under it).
    static let maximumFileBytes = 64 << 20

    private func read(_ file: String) throws -> PinSet {
        guard let status = fileStatus(file), status.size <= Self.maximumFileBytes else {
            throw PinError("missing, or over \(Self.maximumFileBytes) bytes")
        }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        let json: JSONValue
        do {
            json = try JSONValue(parsing: bytes)
        } catch {
            throw PinError("not JSON: \(error)")
        }
        return try PinSet(json: json)
    }
}

/// Which versions of each package are pinned, and by which sets: what the consumer keeps beside the
/// newest `OLD_PACKAGE_VERSIONS_LIMIT`. Read from a ``PinFolder`` again when the folder has changed,
/// looked at no more than once per ``recheck``.
///
/// A set file that stops being readable keeps the versions it last pinned (a torn or hand-edited
/// file must not let its versions be pruned); it is logged each time the folder is read.
public final class PinIndex: Sendable {
    public let folder: PinFolder
    let recheck: Duration
    let logger: Logger

    private struct State: Sendable {
        var stamp: FileStamp?
        var checkedAt: ContinuousClock.Instant?
        var sets: [String: PinSet] = [:]
        /// Package name → version → ids of the sets that pin it.
        var byPackage: [String: [String: [String]]] = [:]
    }

    private let state = Mutex(State())

    public init(folder: PinFolder, recheck: Duration = .seconds(1), logger: Logger) {
        self.folder = folder
        self.recheck = recheck
        self.logger = logger
    }

    /// The package's pinned versions, each with the ids of the sets that pin it (sorted); empty when
    /// none is. Reads the folder again (on ``BlockingWork``'s threads) when it may have changed.
    public func pins(of name: String) async -> [String: [String]] {
        let now = ContinuousClock.now
        let due = state.withLock { state in state.checkedAt.map { now - $0 >= recheck } ?? true }
        if due {
            await BlockingWork.run { [self] in refresh(at: now) }
        }
        return state.withLock { $0.byPackage[name] ?? [:] }
    }

    /// Reads the folder again if its stamp changed (blocking).
    func refresh(at now: ContinuousClock.Instant) {
        let stamp = folder.stamp
        let unchanged = state.withLock { state -> Bool in
            state.checkedAt = now
            return state.stamp != nil && state.stamp == stamp
        }
        guard !unchanged else { return }
        let (found, problems) = folder.list()
        state.withLock { state in
            var sets = Dictionary(found.map { ($0.id, $0) }, uniquingKeysWith: { first, _ in first })
            for problem in problems {
                let id = String(problem.prefix { $0 != ":" }.dropLast(".json".count))
                if let kept = state.sets[id], sets[id] == nil { sets[id] = kept }
            }
            var byPackage: [String: [String: [String]]] = [:]
            for set in sets.values.sorted(by: { $0.id < $1.id }) {
                for (name, versions) in set.packages {
                    for version in versions { byPackage[name, default: [:]][version, default: []].append(set.id) }
                }
            }
            state.stamp = stamp
            state.sets = sets
            state.byPackage = byPackage
        }
        for problem in problems {
            logger.warning("A pin set cannot be read; the versions it pinned before are kept", metadata: ["pins.folder": "\(folder.path)", "error": "\(problem)"])
        }
    }
}
