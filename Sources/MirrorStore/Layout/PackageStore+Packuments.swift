import NIOCore
import MirrorJSON

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension PackageStore {
    /// What ``storePackument(name:rev:json:deferringDirectorySync:)`` did.
    public struct PackumentWrite: Hashable, Sendable {
        public enum Outcome: Hashable, Sendable {
            /// The revision is the current one now.
            case written
            /// It was the current one already: nothing was written.
            case unchanged
            /// The current revision's generation is higher: it stays current, nothing was written.
            case olderRefused(current: String)
            /// The current revision has the same generation but another hash (a CouchDB conflict
            /// branch): it stays current, nothing was written.
            case conflictKept(current: String)
        }

        public let outcome: Outcome
        /// Previous revisions removed by rotation.
        public let removedRevisions: [String]

        /// True when the revision was made current by this call.
        public var wasWritten: Bool { outcome == .written }
        /// True when a newer (or same-generation) revision was kept instead of this one.
        public var wasRefused: Bool {
            switch outcome {
            case .olderRefused, .conflictKept: true
            case .written, .unchanged: false
            }
        }
    }

    /// A revision's generation (``DocumentRevision``); 0 when it has none.
    static func revisionGeneration(_ rev: String) -> Int {
        DocumentRevision.generation(rev) ?? 0
    }

    /// Stores `json` as the package's current packument, gzip'd — only when `rev` moves the package
    /// forward: its generation is higher than the current revision's. An older generation, or
    /// another revision of the same generation (a conflict branch), leaves the current one in place
    /// and writes nothing (``PackumentWrite/Outcome``). Make the check and the write one step against
    /// other processes with ``withPackageLock(name:_:)``.
    ///
    /// Steps: gzip; write `revisions/<rev>.json.gz` (temporary file in scratch, fsync, rename
    /// — or copy + fsync + rename when scratch is on another file system); make
    /// `packument.json.gz` a hard link to it (link to a temporary name, rename; a copy where hard
    /// links are not supported); delete revisions beyond ``packumentRevisionsKept`` previous ones,
    /// oldest first by modification time.
    ///
    /// The current revision is the revision file `packument.json.gz` is linked to: no separate
    /// marker is written. A crash at any point leaves complete files only: at worst a revision
    /// file that is not current yet, replaced or made current by the next call.
    /// Idempotent: when `rev` is already current, nothing is written (where hard links are not
    /// supported the current revision is not known, and the packument is written again).
    ///
    /// - Throws: ``StoreError``.
    @discardableResult
    ///
    /// - Parameter deferringDirectorySync: under ``StoreDurability/grouped``, leave the last folder
    ///   sync to the caller's ``makeDurable()`` (which must come before anything relies on the write);
    ///   ignored with ``StoreDurability/eachFile``.
    public func storePackument(name: String, rev: String, json: some Collection<UInt8>, deferringDirectorySync: Bool = false) throws -> PackumentWrite {
        let escapedRev = try Self.escapedRevision(rev)
        let directory = try preparePackageDirectory(for: name)
        let revisions = directory + "/" + Self.revisionsFolderName
        let revisionPath = revisions + "/" + escapedRev + Self.revisionSuffix
        let currentPath = directory + "/" + Self.packumentFileName

        if let current = operations.status(currentPath), let revision = operations.status(revisionPath), Self.isSameFile(current, revision) {
            return PackumentWrite(outcome: .unchanged, removedRevisions: [])
        }
        if let current = try currentOrNewestRevision(inDirectory: directory), current != rev {
            let (held, offered) = (Self.revisionGeneration(current), Self.revisionGeneration(rev))
            if offered < held { return PackumentWrite(outcome: .olderRefused(current: current), removedRevisions: []) }
            if offered == held { return PackumentWrite(outcome: .conflictKept(current: current), removedRevisions: []) }
        }
        try operations.makeDirectories(revisions)
        let compressed = try Gzip.compress(json)
        // Under grouped durability the round that makes the link (or the copy) durable also covers
        // the revision's rename: a syncfs covers the whole file system, so one folder sync is enough.
        let grouped = operations.syncGroup != nil
        let syncLast = !operations.defersDirectorySync(deferringDirectorySync)
        try compressed.withUnsafeReadableBytes { bytes in
            try operations.writeAtomically(bytes, to: revisionPath, temporaryDirectory: scratch, syncingDirectory: !grouped)
            if try !operations.linkIntoPlace(from: revisionPath, to: currentPath, syncingDirectory: syncLast) {
                try operations.writeAtomically(bytes, to: currentPath, temporaryDirectory: scratch, syncingDirectory: syncLast)
            }
        }
        // Stores written before the current revision was read from the hard link had a marker file.
        let oldMarker = directory + "/" + Self.legacyRevisionMarkerFileName
        if operations.exists(oldMarker) { try operations.removeFile(oldMarker) }
        let removed = try rotateRevisions(in: revisions, current: escapedRev)
        try logWrite(name: name, rev: rev)
        return PackumentWrite(outcome: .written, removedRevisions: removed)
    }

    /// The current revision; where it cannot be known (a copy on a file system without hard links)
    /// but a packument is there, the highest-generation revision file, which the current one is.
    private func currentOrNewestRevision(inDirectory directory: String) throws -> String? {
        if let current = try currentRevision(inDirectory: directory) { return current }
        guard operations.exists(directory + "/" + Self.packumentFileName) else { return nil }
        return try revisionFiles(in: directory + "/" + Self.revisionsFolderName)
            .compactMap { PackageNameEncoding.decode($0.escaped) }
            .max { Self.revisionGeneration($0) < Self.revisionGeneration($1) }
    }

    /// Appends `<name>\t<rev>` to ``writeLog`` (when set): one whole line per revision made current.
    private func logWrite(name: String, rev: String) throws {
        guard let writeLog else { return }
        let fd = open(writeLog, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw StoreError.system("open the write log", path: writeLog, errno: errno) }
        defer { close(fd) }
        let line = Array((name + "\t" + rev + "\n").utf8)
        let written = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        guard written == line.count else { throw StoreError.system("append to the write log", path: writeLog, errno: errno) }
    }

    /// Runs `body` holding the package's lock: an exclusive `flock` on its folder (made if missing),
    /// which every process writing this store takes around a packument's check, write and pruning,
    /// so two writers of one package (group members during a rebalance) apply in turn. Do not nest.
    public func withPackageLock<T>(name: String, _ body: () throws -> T) throws -> T {
        let directory = try preparePackageDirectory(for: name)
        let fd = open(directory, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError.system("open the package folder", path: directory, errno: errno) }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 {
            guard errno == EINTR else { throw StoreError.system("lock the package folder", path: directory, errno: errno) }
        }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }

    /// The current packument's revision, or nil when none is stored.
    public func currentPackumentRevision(name: String) throws -> String? {
        try currentRevision(inDirectory: absolutePackageDirectory(for: name))
    }

    /// The previous revisions kept (not the current one), newest first.
    public func previousPackumentRevisions(name: String) throws -> [String] {
        let directory = absolutePackageDirectory(for: name)
        let current = try currentRevision(inDirectory: directory).map { try Self.escapedRevision($0) }
        return try revisionFiles(in: directory + "/" + Self.revisionsFolderName)
            .filter { $0.escaped != current }
            .compactMap { PackageNameEncoding.decode($0.escaped) }
    }

    /// The stored packument, decompressed: the current one, or the given previous revision.
    /// Nil when it is not stored.
    ///
    /// - Throws: ``StoreError`` (`corrupt_stored_file` when it does not gunzip or is over `maxBytes`).
    public func readPackument(name: String, revision: String? = nil, maxBytes: Int = 1 << 30) throws -> [UInt8]? {
        let directory = absolutePackageDirectory(for: name)
        let path: String
        if let revision {
            path = directory + "/" + Self.revisionsFolderName + "/" + (try Self.escapedRevision(revision)) + Self.revisionSuffix
        } else {
            path = directory + "/" + Self.packumentFileName
        }
        guard let compressed = try operations.readFile(path, maxBytes: maxBytes) else { return nil }
        return try Gzip.decompress(compressed, maxSize: maxBytes)
    }

    // MARK: Helpers

    static func escapedRevision(_ rev: String) throws -> String {
        guard !rev.isEmpty else { throw StoreError.invalidName("empty packument revision") }
        let escaped = PackageNameEncoding.escape(rev)
        guard escaped.utf8.count <= PackageNameEncoding.maximumComponentLength else {
            throw StoreError.invalidName("packument revision too long: \(rev.prefix(100))…")
        }
        return escaped
    }

    /// The revision `packument.json.gz` is a hard link to, or nil when there is none (no packument,
    /// or a copy on a file system without hard links).
    func currentRevision(inDirectory directory: String) throws -> String? {
        guard let current = operations.status(directory + "/" + Self.packumentFileName) else { return nil }
        let revisions = directory + "/" + Self.revisionsFolderName
        for name in try operations.contents(ofDirectory: revisions) ?? [] where !name.hasPrefix(temporaryFilePrefix) && name.hasSuffix(Self.revisionSuffix) {
            guard let status = operations.status(revisions + "/" + name), Self.isSameFile(current, status) else { continue }
            return PackageNameEncoding.decode(String(name.dropLast(Self.revisionSuffix.count)))
        }
        return nil
    }

    static func isSameFile(_ a: stat, _ b: stat) -> Bool {
        a.st_ino == b.st_ino && a.st_dev == b.st_dev
    }

    /// Revision files (not temporary ones), newest first by modification time.
    func revisionFiles(in revisions: String) throws -> [(escaped: String, modified: Int64)] {
        let names = try operations.contents(ofDirectory: revisions) ?? []
        var files: [(escaped: String, modified: Int64)] = []
        for name in names where !name.hasPrefix(temporaryFilePrefix) && name.hasSuffix(Self.revisionSuffix) {
            guard let status = operations.status(revisions + "/" + name) else { continue }
            #if canImport(Darwin)
            let time = Int64(status.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(status.st_mtimespec.tv_nsec)
            #else
            let time = Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec)
            #endif
            files.append((String(name.dropLast(Self.revisionSuffix.count)), time))
        }
        // Same modification time (coarse clocks): the higher CouchDB generation (`<n>-<hash>`) first.
        func generation(_ escaped: String) -> Int { Int(escaped.prefix { $0.isNumber }) ?? -1 }
        return files.sorted { a, b in
            if a.modified != b.modified { return a.modified > b.modified }
            if generation(a.escaped) != generation(b.escaped) { return generation(a.escaped) > generation(b.escaped) }
            return a.escaped > b.escaped
        }
    }

    private func rotateRevisions(in revisions: String, current: String) throws -> [String] {
        let previous = try revisionFiles(in: revisions).filter { $0.escaped != current }
        var removed: [String] = []
        for file in previous.dropFirst(packumentRevisionsKept) {
            try operations.removeFile(revisions + "/" + file.escaped + Self.revisionSuffix)
            removed.append(PackageNameEncoding.decode(file.escaped) ?? file.escaped)
        }
        return removed
    }
}
