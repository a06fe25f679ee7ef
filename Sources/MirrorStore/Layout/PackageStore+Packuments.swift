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
    /// links are not supported); write `packument.rev`; delete revisions beyond
    /// ``packumentRevisionsKept`` previous ones, oldest first by modification time.
    ///
    /// A crash at any point leaves complete files only: at worst a revision file that is not
    /// current yet, or a stale `packument.rev`, both repaired by the next call.
    /// Idempotent: when `rev` is already current, nothing is written.
    ///
    /// - Throws: ``StoreError``.
    @discardableResult
    public func storePackument(name: String, rev: String, json: some Collection<UInt8>) throws -> PackumentWrite {
        let escapedRev = try Self.escapedRevision(rev)
        let directory = try preparePackageDirectory(for: name)
        let revisions = directory + "/" + Self.revisionsFolderName
        let revisionPath = revisions + "/" + escapedRev + Self.revisionSuffix
        let currentPath = directory + "/" + Self.packumentFileName
        let markerPath = directory + "/" + Self.revisionMarkerFileName

        if try currentRevision(inDirectory: directory) == rev, operations.exists(currentPath), operations.exists(revisionPath) {
            return PackumentWrite(wasWritten: false, removedRevisions: [])
        }
        try operations.makeDirectories(revisions)
        let compressed = try Gzip.compress(json)
        try compressed.withUnsafeReadableBytes { bytes in
            try operations.writeAtomically(bytes, to: revisionPath, temporaryDirectory: scratch)
            if try !operations.linkIntoPlace(from: revisionPath, to: currentPath) {
                try operations.writeAtomically(bytes, to: currentPath, temporaryDirectory: scratch)
            }
        }
        try Array(rev.utf8).withUnsafeBytes {
            try operations.writeAtomically($0, to: markerPath, temporaryDirectory: scratch)
        }
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
    /// - Throws: ``StoreError`` (`corruptStoredFile` when it does not gunzip or is over `maxBytes`).
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

    func currentRevision(inDirectory directory: String) throws -> String? {
        guard let bytes = try operations.readFile(directory + "/" + Self.revisionMarkerFileName, maxBytes: 4096) else { return nil }
        return String(validating: bytes, as: UTF8.self)
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
