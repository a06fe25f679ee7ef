import NPMNames
extension PackageStore {
    /// A fresh, unused path in the scratch directory (the file is not created).
    public func scratchFile() -> ScratchFile {
        ScratchFile(path: scratch + "/" + FileOperations.temporaryName(suffix: ".download"))
    }

    /// Creates a new scratch file to stream a download into.
    public func makeScratchWriter() throws -> ScratchWriter {
        try ScratchWriter(file: scratchFile(), operations: operations)
    }

    /// Moves a verified scratch file to `<package folder>/<basename>-<version>.tgz`, atomically:
    /// `rename(2)` on the same file system, otherwise copy to a temporary file beside the
    /// destination + fsync + rename, then the scratch file is removed. An existing tarball of
    /// the same version is replaced (npm never changes a published version's bytes).
    ///
    /// - Parameter deferringDirectorySync: under ``StoreDurability/grouped``, leave the folder sync
    ///   to the caller's ``makeDurable()``; ignored with ``StoreDurability/eachFile``.
    /// - Returns: the tarball's path relative to ``root``.
    /// - Throws: ``StoreError``; `stale_verification` when the scratch file changed after it was
    ///   verified. Nothing partial is left under the root.
    @discardableResult
    public func commitTarball(_ tarball: VerifiedTarball, deferringDirectorySync: Bool = false) throws -> String {
        guard let identity = FileStamp(tarball.file.path) else {
            throw StoreError(code: .notFound, message: "verified scratch file \(tarball.file.path) is gone")
        }
        guard identity == tarball.identity else {
            throw StoreError.staleVerification("\(tarball.file.path) changed after it was verified")
        }
        let fileName = try tarballFileName(name: tarball.name, version: tarball.version)
        let directory = try preparePackageDirectory(for: tarball.name)
        try operations.moveIntoPlace(from: tarball.file.path, to: directory + "/" + fileName, syncingDirectory: !operations.defersDirectorySync(deferringDirectorySync))
        return packageDirectory(for: tarball.name) + "/" + fileName
    }

    /// Makes every write of this store so far durable, the renames whose folder sync was deferred
    /// among them: one shared round under ``StoreDurability/grouped``; nothing to do with
    /// ``StoreDurability/eachFile``, where every call was durable when it returned.
    ///
    /// - Throws: ``StoreError``.
    public func makeDurable() throws {
        try operations.syncGroup?.sync()
    }

    /// Whether the version's tarball is stored.
    public func hasTarball(name: String, version: String) -> Bool {
        guard let fileName = try? tarballFileName(name: name, version: version) else { return false }
        return operations.exists(absolutePackageDirectory(for: name) + "/" + fileName)
    }

    /// The versions whose tarballs are stored, sorted.
    public func storedVersions(name: String) throws -> [String] {
        try Self.validate(name: name)
        let names = try operations.contents(ofDirectory: absolutePackageDirectory(for: name)) ?? []
        let prefix = PackageNameEncoding.escape(PackageName.basename(name)) + "-"
        var versions: [String] = []
        for file in names where file.hasSuffix(Self.tarballSuffix) && !file.hasPrefix(temporaryFilePrefix) {
            let stem = file.dropLast(Self.tarballSuffix.count)
            let escapedVersion: Substring
            if stem.hasPrefix(Self.shortTarballPrefix) {
                escapedVersion = stem.dropFirst(Self.shortTarballPrefix.count)
            } else if stem.hasPrefix(prefix) {
                escapedVersion = stem.dropFirst(prefix.count)
            } else {
                continue
            }
            if let version = PackageNameEncoding.decode(String(escapedVersion)) { versions.append(version) }
        }
        return versions.sorted()
    }

    /// Removes the tarballs (and stored attestations) whose version is not in `versions`.
    ///
    /// - Returns: the versions whose tarballs were removed, sorted.
    @discardableResult
    public func prune(name: String, keep versions: Set<String>) throws -> [String] {
        var removed: [String] = []
        let directory = absolutePackageDirectory(for: name)
        for version in try storedVersions(name: name) where !versions.contains(version) {
            try operations.removeFile(directory + "/" + (try tarballFileName(name: name, version: version)))
            removed.append(version)
        }
        if !removed.isEmpty { try operations.syncDirectory(directory) }
        try pruneAttestations(name: name, keep: versions)
        return removed
    }
}
