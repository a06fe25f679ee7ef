import Foundation
import Logging
import MirrorJSON
import MirrorOffline
import MirrorRuntime
import MirrorStore
import ServiceLifecycle

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
        var lockfiles = LockfileStamps()
        repeat {
            do {
                let sent = try await scan(&lockfiles)
                if sent > 0 { logger.info("Sent pinned packages to the consumers", metadata: ["pins.packages": "\(sent)"]) }
            } catch {
                logger.error("Pin scan failed; trying again at the next interval", metadata: ["error": "\(error)"])
            }
        } while await pauseUnlessShuttingDown(interval)
    }

    /// One look now (what ``run()`` does every interval), for a caller that runs the pipeline's
    /// parts itself: returns the number of packages sent.
    @discardableResult
    public func sendPending() async throws -> Int {
        var lockfiles = LockfileStamps()
        return try await scan(&lockfiles)
    }

    /// The stamps of the lockfiles last read from `PIN_DIRECTORY`.
    struct LockfileStamps: Sendable {
        var stamps: [String: FileStamp] = [:]
    }

    /// One look: syncs `PIN_DIRECTORY`'s sets, then sends what is pinned and not yet sent. Returns
    /// the number of packages sent.
    @discardableResult
    func scan(_ lockfiles: inout LockfileStamps) async throws -> Int {
        if let lockfileDirectory {
            lockfiles = try await BlockingWork.run { [folder, logger, lockfiles] in
                try Self.syncLockfiles(from: lockfileDirectory, into: folder, known: lockfiles, logger: logger)
            }
        }
        let (sets, problems) = await BlockingWork.run { [folder] in folder.list() }
        for problem in problems {
            logger.warning("A pin set cannot be read", metadata: ["pins.folder": "\(folder.path)", "error": "\(problem)"])
        }
        let ledgerPath = folder.path + "/.sent.json"
        var ledger = await BlockingWork.run { Self.readLedger(ledgerPath) }
        var pinned: Set<String> = []
        var unsent: [String: Bool] = [:]
        for set in sets {
            for (name, versions) in set.packages {
                for version in versions {
                    let key = name + "@" + version
                    pinned.insert(key)
                    if !ledger.contains(key) { unsent[name] = true }
                }
            }
        }
        let names = unsent.keys.sorted()
        var start = 0
        while start < names.count {
            let batch = Array(names[start..<min(start + Self.batchSize, names.count)])
            try await send(batch)
            let batchNames = Set(batch)
            for key in pinned where batchNames.contains(Self.name(ofKey: key)) { ledger.insert(key) }
            try await BlockingWork.run { [ledger] in try Self.writeLedger(ledger, to: ledgerPath) }
            start += batch.count
        }
        // Versions no longer pinned are forgotten, so pinning them again sends them again.
        if !ledger.isSubset(of: pinned) {
            let kept = ledger.intersection(pinned)
            try await BlockingWork.run { try Self.writeLedger(kept, to: ledgerPath) }
        }
        return names.count
    }

    /// The package name of a ledger key (`name@version`; a scoped name starts with `@`).
    static func name(ofKey key: String) -> String {
        guard let at = key.dropFirst().lastIndex(of: "@") else { return key }
        return String(key[..<at])
    }

    /// Reads the lockfiles of `directory` whose stamp changed into pin sets, and removes the sets of
    /// lockfiles that are gone (blocking). A lockfile that cannot be read is logged and its set left
    /// as it was.
    static func syncLockfiles(from directory: String, into folder: PinFolder, known: LockfileStamps, logger: Logger) throws -> LockfileStamps {
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).filter { !$0.hasPrefix(".") }.sorted()
        var stamps = LockfileStamps()
        for name in names {
            let path = directory + "/" + name
            guard let stamp = FileStamp(path), !FileManager.default.isDirectoryPath(path) else { continue }
            stamps.stamps[name] = stamp
            guard known.stamps[name] != stamp else { continue }
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
