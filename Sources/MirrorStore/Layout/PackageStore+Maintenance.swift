extension PackageStore {
    /// Removes the package's folder with everything in it (for unpublished packages, when the
    /// configuration asks for it). The folder is first renamed to a temporary name, so it
    /// disappears at once; a crash while deleting leaves a temporary folder that
    /// ``removeOrphanTemporaryFiles()`` deletes.
    ///
    /// - Returns: whether the package was stored.
    @discardableResult
    public func removePackage(name: String) throws -> Bool {
        try Self.validate(name: name)
        let directory = absolutePackageDirectory(for: name)
        guard operations.isDirectory(directory) else { return false }
        let parent = operations.parentDirectory(of: directory)
        let doomed = parent + "/" + FileOperations.temporaryName(suffix: ".removing")
        try operations.rename(directory, to: doomed)
        try operations.syncDirectory(parent)
        try operations.removeTree(doomed)
        return true
    }

    /// Removes the temporary files left in the scratch directory by a run that crashed.
    /// Call at start-up, before any download: it assumes this process owns the scratch directory.
    ///
    /// - Returns: the removed names.
    @discardableResult
    public func cleanScratch() throws -> [String] {
        var removed: [String] = []
        for name in try operations.contents(ofDirectory: scratch) ?? [] where name.hasPrefix(temporaryFilePrefix) {
            try operations.removeTree(scratch + "/" + name)
            removed.append(name)
        }
        return removed.sorted()
    }

    /// Temporary files and folders under the root (left by an interrupted copy, link or removal),
    /// as paths relative to the root. Walks the whole store: at start-up, not per request.
    public func orphanTemporaryFiles() throws -> [String] {
        var found: [String] = []
        // Shard folders, package folders, the revisions folder: at most 3 levels hold files.
        try collectTemporaryFiles(in: "", depth: shardLength > 0 ? 4 : 3, into: &found)
        return found.sorted()
    }

    /// Removes what ``orphanTemporaryFiles()`` finds. Only safe when no other process is
    /// writing to the store. Returns the removed paths, relative to the root.
    @discardableResult
    public func removeOrphanTemporaryFiles() throws -> [String] {
        let orphans = try orphanTemporaryFiles()
        for orphan in orphans { try operations.removeTree(root + "/" + orphan) }
        return orphans
    }

    private func collectTemporaryFiles(in relative: String, depth: Int, into found: inout [String]) throws {
        guard depth > 0 else { return }
        let absolute = relative.isEmpty ? root : root + "/" + relative
        for name in try operations.contents(ofDirectory: absolute) ?? [] {
            let child = relative.isEmpty ? name : relative + "/" + name
            if name.hasPrefix(temporaryFilePrefix) {
                found.append(child)
            } else if operations.isDirectory(root + "/" + child) {
                try collectTemporaryFiles(in: child, depth: depth - 1, into: &found)
            }
        }
    }
}
