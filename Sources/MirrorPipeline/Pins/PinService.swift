import Foundation
import Logging
import MirrorJSON
import MirrorOffline
import MirrorRuntime
import MirrorStore
import ServiceLifecycle
import Synchronization

/// Beside the producer: turns the lockfiles of `PIN_DIRECTORY` into pin sets (`dir-<file>`, removed
/// with their file), and sends every package with a pinned version not sent before (from those sets
/// or from `npm-mirror pin`) to the consumers. Looks every ``interval``; the versions already sent
/// are remembered in `<pin folder>/.sent.json`, so a restart sends nothing again.
public struct PinService: Service {
    public static let lockfilePrefix = "dir-"

    let folder: PinFolder
    /// `PIN_DIRECTORY`; nil: only the sets `npm-mirror pin` writes.
    let lockfileDirectory: String?
    let send: @Sendable ([String]) async throws -> Void
    let interval: Duration
    let logger: Logger
    /// The most packages sent in one batch (each batch is acknowledged, then remembered).
    static let batchSize = 1_000

    public init(folder: PinFolder, lockfileDirectory: String?, send: @escaping @Sendable ([String]) async throws -> Void, interval: Duration = .seconds(10), logger: Logger) {
        self.folder = folder
        self.lockfileDirectory = lockfileDirectory
        self.send = send
        self.interval = interval
        self.logger = logger
    }

    public func run() async throws {
        repeat {
            do {
                let sent = try await sendPending()
                if sent > 0 { logger.info("Sent pinned packages to the consumers", metadata: ["pins.packages": "\(sent)"]) }
            } catch {
                logger.error("Pin scan failed; trying again at the next interval", metadata: ["error": "\(error)"])
            }
        } while await pauseUnlessShuttingDown(interval)
    }

    /// The stamps of the lockfiles last read from `PIN_DIRECTORY`: a file is read again only when
    /// its stamp changes.
    private final class LockfileStamps: Sendable {
        let stamps = Mutex<[String: FileStamp]>([:])
    }

    private let lockfiles = LockfileStamps()

    /// One look (what ``run()`` does every interval; callers that run the pipeline's parts themselves
    /// call it directly): syncs `PIN_DIRECTORY`'s sets, then sends what is pinned and not yet sent.
    /// Returns the number of packages sent.
    @discardableResult
    public func sendPending() async throws -> Int {
        if let lockfileDirectory {
            let known = lockfiles.stamps.withLock { $0 }
            let read = try await BlockingWork.run { [folder, logger] in
                try Self.syncLockfiles(from: lockfileDirectory, into: folder, known: known, logger: logger)
            }
            lockfiles.stamps.withLock { $0 = read }
        }
        let (sets, problems) = await BlockingWork.run { [folder] in folder.list() }
        for problem in problems {
            logger.warning("A pin set cannot be read", metadata: ["pins.folder": "\(folder.path)", "error": "\(problem)"])
        }
        let ledgerPath = folder.path + "/.sent.json"
        var ledger = await BlockingWork.run { Self.readLedger(ledgerPath) }
        var pinned: Set<String> = []
        // Package name → its pinned `name@version` keys not sent yet.
        var unsent: [String: [String]] = [:]
        for set in sets {
            for (name, versions) in set.packages {
                for version in versions {
                    let key = name + "@" + version
                    pinned.insert(key)
                    if !ledger.contains(key) { unsent[name, default: []].append(key) }
                }
            }
        }
        let names = unsent.keys.sorted()
        for start in stride(from: 0, to: names.count, by: Self.batchSize) {
            let batch = Array(names[start..<min(start + Self.batchSize, names.count)])
            try await send(batch)
            for name in batch { ledger.formUnion(unsent[name] ?? []) }
            try await BlockingWork.run { [ledger] in try Self.writeLedger(ledger, to: ledgerPath) }
        }
        // Versions no longer pinned are forgotten, so pinning them again sends them again.
        if !ledger.isSubset(of: pinned) {
            let kept = ledger.intersection(pinned)
            try await BlockingWork.run { try Self.writeLedger(kept, to: ledgerPath) }
        }
        return names.count
    }

    /// Reads the lockfiles of `directory` whose stamp changed into pin sets, and removes the sets of
    /// lockfiles that are gone (blocking). A lockfile that cannot be read is logged and its set left
    /// as it was.
    static func syncLockfiles(from directory: String, into folder: PinFolder, known: [String: FileStamp], logger: Logger) throws -> [String: FileStamp] {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { !$0.hasPrefix(".") }.sorted()
        var stamps: [String: FileStamp] = [:]
        for name in names {
            let path = directory + "/" + name
            guard let stamp = FileStamp(path), !FileManager.default.isDirectoryPath(path) else { continue }
            stamps[name] = stamp
            guard known[name] != stamp else { continue }
            do {
                let set = try PinSet(lockfileAt: path, id: lockfileSetID(name), pinnedAt: Timestamp.now())
                try folder.write(set)
                logger.info("Pinned a lockfile of PIN_DIRECTORY", metadata: ["pins.set": "\(set.id)", "pins.versions": "\(set.versionCount)"])
            } catch {
                logger.error("A lockfile of PIN_DIRECTORY cannot be pinned", metadata: ["pins.file": "\(path)", "error": "\(error)"])
            }
        }
        let current = Set(names.map(lockfileSetID))
        for set in folder.list().sets where set.id.hasPrefix(lockfilePrefix) && !current.contains(set.id) {
            try folder.remove(id: set.id)
            logger.info("Unpinned a lockfile removed from PIN_DIRECTORY", metadata: ["pins.set": "\(set.id)"])
        }
        return stamps
    }

    /// The set id of a lockfile in `PIN_DIRECTORY`: `dir-` and its file name, made safe.
    static func lockfileSetID(_ fileName: String) -> String {
        lockfilePrefix + PinSet.safeIDPart(fileName).prefix(100)
    }

    static func readLedger(_ path: String) -> Set<String> {
        guard let data = FileManager.default.contents(atPath: path), let json = try? JSONValue(parsing: data),
            let sent = json["sent"]?.arrayValue
        else { return [] }
        return Set(sent.compactMap(\.stringValue))
    }

    static func writeLedger(_ ledger: Set<String>, to path: String) throws {
        let json = JSONValue.object(["sent": .array(ledger.sorted().map(JSONValue.string))])
        try AtomicFile.write(Data(json.serializedBytes), to: URL(fileURLWithPath: path))
    }
}

extension FileManager {
    fileprivate func isDirectoryPath(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
