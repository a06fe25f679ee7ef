extension PackageStore {
    /// What a walk of the root found: the package folders, and whatever else is there.
    public struct Listing: Sendable, Hashable {
        /// Package folders relative to ``PackageStore/root`` (`<shard>/<encoded name>`, or
        /// `<encoded name>` without shards), sorted. A folder is listed by where it is, whether or not
        /// its name decodes (``PackageStore/packageName(forDirectory:)`` says).
        public var packageDirectories: [String]
        /// Entries relative to the root that are neither a shard folder nor a package folder (files at the
        /// root or in a shard folder, folders whose name is not a shard), sorted; temporary (`.tmp-`)
        /// entries included: ``isTemporary(_:)`` tells them apart.
        public var otherEntries: [String]
    }

    /// One entry of a folder under the root.
    public struct DirectoryEntry: Sendable, Hashable {
        public var name: String
        public var isDirectory: Bool

        /// A temporary file or folder (`.tmp-…`), left by an interrupted write or a write in progress.
        public var isTemporary: Bool { PackageStore.isTemporary(name) }
    }

    /// Whether a file name, or the last component of a path, is a store temporary name (`.tmp-…`).
    public static func isTemporary(_ name: String) -> Bool {
        let last = name.split(separator: "/").last.map(String.init) ?? ""
        return last.hasPrefix(temporaryFilePrefix)
    }

    /// Walks the root and its shard folders (not the package folders' contents). Shard folders are
    /// folders named with exactly ``shardLength`` lowercase hex digits.
    ///
    /// - Throws: ``StoreError`` when a folder cannot be read (`not_found` when the root is missing).
    public func packageDirectories() throws -> Listing {
        guard let top = try operations.contents(ofDirectory: root) else {
            throw StoreError(code: .notFound, message: "the store root \(root) is not a folder")
        }
        var packages: [String] = []
        var others: [String] = []
        for name in top {
            let isDirectory = operations.isDirectory(root + "/" + name)
            if shardLength == 0 {
                if isDirectory && !Self.isTemporary(name) { packages.append(name) } else { others.append(name) }
                continue
            }
            guard isDirectory, Self.isShardName(name, length: shardLength) else {
                others.append(name)
                continue
            }
            for child in try operations.contents(ofDirectory: root + "/" + name) ?? [] {
                let relative = name + "/" + child
                if !Self.isTemporary(child) && operations.isDirectory(root + "/" + relative) {
                    packages.append(relative)
                } else {
                    others.append(relative)
                }
            }
        }
        return Listing(packageDirectories: packages.sorted(), otherEntries: others.sorted())
    }

    /// The entries of a folder under the root (`relative` to it), sorted by name; nil when there is no
    /// such folder. Symbolic links are not followed (a link is not a directory here).
    ///
    /// - Throws: ``StoreError`` when the folder cannot be read.
    public func directoryEntries(_ relative: String) throws -> [DirectoryEntry]? {
        let absolute = relative.isEmpty ? root : root + "/" + relative
        guard let names = try operations.contents(ofDirectory: absolute) else { return nil }
        return names.sorted().map { DirectoryEntry(name: $0, isDirectory: operations.isDirectory(absolute + "/" + $0)) }
    }

    static func isShardName(_ name: String, length: Int) -> Bool {
        name.utf8.count == length && name.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || (UInt8(ascii: "a")...UInt8(ascii: "f")).contains($0) }
    }
}
