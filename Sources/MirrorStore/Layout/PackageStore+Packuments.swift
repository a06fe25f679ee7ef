import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension PackageStore {
    /// What ``storePackument(name:rev:json:)`` did.
    public struct PackumentWrite: Hashable, Sendable {
        /// False when this revision was already the current one (nothing was written).
        public let wasWritten: Bool
        /// Previous revisions removed by rotation.
        public let removedRevisions: [String]
    }

    /// Stores `json` as the package's current packument, gzip'd.
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
            return PackumentWrite(wasWritten: false, removedRevisions: [])
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
        return PackumentWrite(wasWritten: true, removedRevisions: removed)
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
