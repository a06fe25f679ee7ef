import Foundation
import MirrorJSON
import MirrorRuntime
import CompressNIO
import Crypto
import Logging
import MirrorRecords
import MirrorStore
import MirrorWeb
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The documents served for one package, derived once per stored packument revision, set of held
/// tarballs and tarball base, and kept on disk in the package's `served/` folder:
///
/// ```
/// served/<key>.full.json            served/<key>.full.json.gz
/// served/<key>.abbreviated.json     served/<key>.abbreviated.json.gz
/// served/<key>.index.json           (written last: its presence means the others are complete)
/// served/<key>.gone.json            instead of all of them, for an unpublished package (the 404 body)
/// ```
///
/// `<key>` is a hash of the derivation's format, the packument's revision, the tarball base and
/// the held versions: a new revision, a newly stored tarball or another `PUBLIC_URL` is another
/// key, so a file, once written, never changes.
///
/// With a cooldown (`SERVE_MIN_AGE`) what is served also depends on the time. The hash above, with
/// the minimum age, is then a base key, and `served/<base key>.cooldown.json` (written after the
/// documents) says which held versions the derivation held back and until when that holds; the
/// documents' key is the hash of the base key and those versions. Past that time the base key is
/// derived again, so a version comes of age without a new revision. Several serve processes can share a store: each
/// writes whole files by rename, and the same key always has the same bytes. A process derives a
/// key at most once at a time (concurrent requests for it wait for the one derivation).
/// After a derivation, files of keys beyond the newest ``keysKept`` are removed.
final class ServedDocuments: Sendable {
    /// A representation of the packument.
    enum Form: String, Sendable, CaseIterable {
        case full
        case abbreviated
    }

    /// The derived documents of one package, as found on disk.
    struct Entry: Sendable {
        var name: String
        var key: String
        var directory: String
        /// For an unpublished package: the path of the 404 body.
        var gonePath: String?
        /// The held versions the cooldown leaves out (sorted).
        var heldBack: [String] = []
        /// Until when (seconds since 1970) this entry holds under the cooldown; nil: for as long as
        /// the packument's revision and the held tarballs do.
        var validUntil: Int64?
        /// Under a cooldown, the base key: set while the entry is still to be derived (``key`` is the
        /// base key then, and names no documents).
        var pendingCooldown = false
        /// The package folder's and `packument.json.gz`'s stamps taken before the entry was looked
        /// up, when both are old enough to trust: while they stay the same, so does the entry (what
        /// the fast path re-checks its answers by). Nil when they cannot be trusted yet.
        var stamps: Stamps?

        struct Stamps: Sendable, Hashable {
            var folder: FileStamp
            var packument: FileStamp
        }

        func path(_ form: Form, gzip: Bool) -> String {
            directory + "/" + key + "." + form.rawValue + ".json" + (gzip ? ".gz" : "")
        }

        var indexPath: String { directory + "/" + key + ".index.json" }

        /// The web pages' summary (``WebSummary``).
        var webPath: String { directory + "/" + key + ".web.json" }

        /// The README's Markdown, when the packument has one.
        var readmePath: String { directory + "/" + key + ".readme.md" }

        /// The representation's strong ETag.
        func etag(_ form: Form, gzip: Bool) -> String {
            "\"" + key + "-" + form.rawValue + (gzip ? "-gzip" : "") + "\""
        }
    }

    /// Bumped whenever the derived documents change shape, so old files are never served.
    static let formatVersion = "served-2"
    static let keysKept = 4

    let store: PackageStore
    /// `FETCH_TARBALLS`: serve only versions whose tarball is held.
    let onlyHeldVersions: Bool
    /// `SERVE_MIN_AGE`; nil: off.
    let cooldown: ReleaseCooldown?
    let maximumPackumentBytes: Int
    let metrics: ServeMetrics
    let logger: Logger
    private let derivations = Mutex<[String: Task<Void, any Error>]>([:])
    /// The last entry found per package and tarball base, with what it was found from: reused while
    /// the package folder (tarballs added or removed) and `packument.json.gz` (a new revision) are
    /// unchanged, so a request costs two `stat`s instead of two folder listings.
    /// (The stamps are the entry's own ``Entry/stamps``.)
    private let recent = Mutex<[String: Entry]>([:])
    static let recentLimit = 100_000

    init(store: PackageStore, onlyHeldVersions: Bool, minimumAge: Duration? = nil, maximumPackumentBytes: Int, metrics: ServeMetrics, logger: Logger) {
        self.store = store
        self.onlyHeldVersions = onlyHeldVersions
        self.cooldown = minimumAge.map(ReleaseCooldown.init(minimumAge:))
        self.maximumPackumentBytes = maximumPackumentBytes
        self.metrics = metrics
        self.logger = logger
    }

    /// The package's derived documents for `tarballBase`, deriving them first when needed; nil when
    /// no packument is stored. `fresh` looks at the store again instead of reusing the last answer
    /// (after a file of that answer turned out to be gone).
    func entry(name: String, tarballBase: String, fresh: Bool = false) async throws -> Entry? {
        let recentKey = name + "\n" + tarballBase
        let folderPath = store.absolutePackageDirectory(for: name)
        // Taken before looking, so a change made while looking shows as a newer stamp next time.
        let folder = FileStamp(folderPath)
        let packument = FileStamp(store.packumentFilePath(for: name))
        if !fresh, let folder, let packument, let known = recent.withLock({ $0[recentKey] }), known.stamps == Entry.Stamps(folder: folder, packument: packument),
            known.validUntil.map({ ReleaseCooldown.now() < $0 }) ?? true
        {
            return known
        }
        guard var found = try await locateOrDerive(name: name, tarballBase: tarballBase) else { return nil }
        // Stamps within the last two seconds may not show a change made in the same clock tick.
        if let folder, let packument, folder.isOlder(than: .seconds(2)), packument.isOlder(than: .seconds(2)) {
            found.stamps = Entry.Stamps(folder: folder, packument: packument)
            recent.withLock { recent in
                if recent.count >= Self.recentLimit { recent.removeAll(keepingCapacity: true) }
                recent[recentKey] = found
            }
        }
        return found
    }

    private func locateOrDerive(name: String, tarballBase: String) async throws -> Entry? {
        for attempt in 0..<2 {
            guard let located = try await BlockingWork.run({ [self] in try self.locate(name: name, tarballBase: tarballBase) }) else {
                return nil
            }
            let (entry, revision, held) = (located.entry, located.revision, located.held)
            if !entry.pendingCooldown, entry.gonePath != nil || fileStatus(entry.indexPath) != nil { return entry }
            let flight = derivations.withLock { flights -> Task<Void, any Error> in
                if let running = flights[entry.key] { return running }
                let task = Task { [self] in
                    defer { _ = derivations.withLock { $0.removeValue(forKey: entry.key) } }
                    try await BlockingWork.run { [self] in try self.derive(entry, revision: revision, held: held, tarballBase: tarballBase) }
                }
                flights[entry.key] = task
                return task
            }
            do {
                try await flight.value
            } catch let error as ServeError where error.isPackumentGone && attempt == 0 {
                // The revision was replaced while it was read: look again.
                continue
            }
            return try await BlockingWork.run { [self] in try self.locate(name: name, tarballBase: tarballBase)?.entry }
        }
        return nil
    }

    /// Finds the key for the package's current state (blocking).
    private func locate(name: String, tarballBase: String) throws -> (entry: Entry, revision: String?, held: Set<String>?)? {
        guard let identity = try store.packumentIdentity(name: name) else { return nil }
        let held = onlyHeldVersions ? Set(try store.storedVersions(name: name)) : nil
        var material = Self.formatVersion + "\n" + identity.description + "\n" + tarballBase + "\n"
        material += held.map { $0.sorted().joined(separator: "\n") } ?? "*"
        if let cooldown { material += "\nmin-age=\(cooldown.minimumAge)" }
        var key = Self.hashKey(material)
        let directory = store.servedDirectory(for: name)
        var entry = Entry(name: name, key: key, directory: directory)
        if cooldown != nil {
            guard let state = Self.readCooldown(directory + "/" + key + ".cooldown.json"), state.until.map({ ReleaseCooldown.now() < $0 }) ?? true else {
                entry.pendingCooldown = true
                return (entry, identity.revision, held)
            }
            key = Self.cooldownKey(base: key, heldBack: state.versions)
            entry.key = key
            entry.heldBack = state.versions
            entry.validUntil = state.until
        }
        let gone = directory + "/" + key + ".gone.json"
        entry.gonePath = fileStatus(gone) != nil ? gone : nil
        return (entry, identity.revision, held)
    }

    private static func hashKey(_ material: String) -> String {
        String(Hex.encode(SHA256.hash(data: Array(material.utf8))).prefix(32))
    }

    /// The documents' key under a cooldown: the base key and the versions held back.
    private static func cooldownKey(base: String, heldBack: [String]) -> String {
        hashKey(base + "\n" + heldBack.joined(separator: "\n"))
    }

    /// A base key's cooldown state; nil when it is missing or unreadable (derived again).
    private static func readCooldown(_ path: String) -> PackumentDerivation.HeldBack? {
        guard fileStatus(path) != nil, let bytes = try? readWholeFile(path, maxBytes: 16 << 20),
            let json = try? JSONValue(parsing: bytes), let versions = json["versions"]?.arrayValue
        else { return nil }
        let until = json["until"]?.numberValue.map { Int64($0) }
        return PackumentDerivation.HeldBack(versions: versions.compactMap(\.stringValue), until: until)
    }

    /// Reads the packument, derives and writes every file of the key, then removes old keys (blocking).
    private func derive(_ located: Entry, revision: String?, held: Set<String>?, tarballBase: String) throws {
        // A request that looked before an earlier derivation of this key finished.
        if !located.pendingCooldown, fileStatus(located.indexPath) != nil || fileStatus(located.directory + "/" + located.key + ".gone.json") != nil { return }
        let start = ContinuousClock.now
        guard let packument = try store.readPackument(name: located.name, revision: revision, maxBytes: maximumPackumentBytes) else {
            throw ServeError.packumentGone("the packument revision of \(located.name.prefix(100)) was replaced while it was read")
        }
        var derivation = PackumentDerivation(heldVersions: held, tarballBase: tarballBase)
        derivation.cooldown = cooldown.map { PackumentDerivation.Cooldown(rule: $0, now: ReleaseCooldown.now()) }
        let outcome: PackumentDerivation.Outcome
        do {
            outcome = try packument.withUnsafeBytes { bytes in try derivation.derive(packument: bytes, name: located.name) }
        } catch {
            metrics.derivation(result: "failed", since: start)
            throw ServeError.corruptPackument("\(error)")
        }
        // Under a cooldown the documents' key is known once the versions held back are.
        var entry = located
        var heldBack = PackumentDerivation.HeldBack()
        if case .documents(_, _, _, _, let found) = outcome { heldBack = found }
        if located.pendingCooldown { entry.key = Self.cooldownKey(base: located.key, heldBack: heldBack.versions) }
        switch outcome {
        case .unpublished(let body):
            try write(body, entry, entry.key + ".gone.json")
        case .documents(let full, let abbreviated, let index, let web, _):
            for (form, bytes) in [(Form.full, full), (.abbreviated, abbreviated)] {
                try write(bytes, entry, entry.key + "." + form.rawValue + ".json")
                try write(try Self.gzip(bytes), entry, entry.key + "." + form.rawValue + ".json.gz")
            }
            if let readme = web.readme { try write(readme, entry, entry.key + ".readme.md") }
            try write(web.summary.serializedBytes, entry, entry.key + ".web.json")
            // The index last: its presence says the key's files are all there.
            try write(index.json.serializedBytes, entry, entry.key + ".index.json")
        }
        if located.pendingCooldown {
            // After the documents: its presence says the documents of its key are complete.
            let state = JSONValue.object([
                "versions": .array(heldBack.versions.map { .string($0) }),
                "until": heldBack.until.map { .number(Double($0)) } ?? .null,
            ])
            try write(state.serializedBytes, entry, located.key + ".cooldown.json")
        }
        metrics.derivation(result: "derived", since: start)
        logger.debug("derived served documents", metadata: ["npm.package": "\(entry.name)", "serve.key": "\(entry.key)", "packument.bytes": "\(packument.count)"])
        try removeOldKeys(entry, alsoKeeping: located.key)
    }

    private func write(_ bytes: [UInt8], _ entry: Entry, _ fileName: String) throws {
        try bytes.withUnsafeBytes { try store.writeServedFile(name: entry.name, fileName: fileName, bytes: $0) }
    }

    private func removeOldKeys(_ entry: Entry, alsoKeeping base: String) throws {
        let files = try store.servedFiles(name: entry.name)
        var keys: [String] = []
        for file in files {
            guard let dot = file.fileName.firstIndex(of: ".") else { continue }
            let key = String(file.fileName[..<dot])
            if !keys.contains(key) { keys.append(key) }
        }
        let kept = Set(keys.prefix(Self.keysKept)).union([entry.key, base])
        for file in files {
            guard let dot = file.fileName.firstIndex(of: "."), !kept.contains(String(file.fileName[..<dot])) else { continue }
            try store.removeServedFile(name: entry.name, fileName: file.fileName)
        }
    }

    /// The index of a derived entry.
    func index(of entry: Entry) async throws -> DocumentIndex {
        let bytes = try await BlockingWork.run { () throws -> [UInt8] in
            try Self.readWholeFile(entry.indexPath, maxBytes: 64 << 20)
        }
        guard let index = DocumentIndex(json: try JSONValue(parsing: bytes)) else {
            throw ServeError.unreadableFile("\(entry.indexPath) is not a served index")
        }
        return index
    }

    /// The web pages' summary of a derived entry (``WebSummary``).
    func webSummary(of entry: Entry) async throws -> JSONValue {
        let bytes = try await BlockingWork.run { () throws -> [UInt8] in
            try Self.readWholeFile(entry.webPath, maxBytes: 64 << 20)
        }
        return try JSONValue(parsing: bytes)
    }

    /// The README's Markdown of a derived entry; nil when the packument has none.
    func readme(of entry: Entry) async throws -> String? {
        try await BlockingWork.run { () throws -> String? in
            guard fileStatus(entry.readmePath) != nil else { return nil }
            return String(decoding: try Self.readWholeFile(entry.readmePath, maxBytes: ReadmeHTML.maximumBytes + 1), as: UTF8.self)
        }
    }

    /// Bytes `range` of a derived file.
    func read(_ path: String, range: Range<Int>) async throws -> [UInt8] {
        try await BlockingWork.run {
            let fd = open(path, O_RDONLY | O_CLOEXEC)
            guard fd >= 0 else { throw ServeError.unreadableFile("cannot open \(path)") }
            defer { close(fd) }
            var bytes = [UInt8](repeating: 0, count: range.count)
            var done = 0
            while done < range.count {
                let count = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, range.count - done, off_t(range.lowerBound + done)) }
                if count < 0, errno == EINTR { continue }
                guard count > 0 else { throw ServeError.unreadableFile("\(path) is shorter than its index says") }
                done += count
            }
            return bytes
        }
    }

    static func readWholeFile(_ path: String, maxBytes: Int) throws -> [UInt8] {
        guard let status = fileStatus(path), status.size <= maxBytes else {
            throw ServeError.unreadableFile("cannot read \(path) (missing, or over \(maxBytes) bytes)")
        }
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ServeError.unreadableFile("cannot open \(path)") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(bytes.count)) }
            if count < 0, errno == EINTR { continue }
            guard count >= 0 else { throw ServeError.unreadableFile("cannot read \(path): errno \(errno)") }
            if count == 0 { return bytes }
            bytes.append(contentsOf: chunk[0..<count])
            guard bytes.count <= maxBytes else { throw ServeError.unreadableFile("\(path) is larger than \(maxBytes) bytes") }
        }
    }

    /// gzip at zlib's default level: derived once, served many times.
    static func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
        var input = ByteBufferAllocator().buffer(capacity: bytes.count)
        input.writeBytes(bytes)
        var output = try input.compress(with: .gzip())
        return output.readBytes(length: output.readableBytes) ?? []
    }
}

