import Crypto
import MirrorJSON
import NPMNames

/// The hash-sharded on-disk package store.
///
/// ```
/// <root>/<shard>/<encoded name>/
///     packument.json.gz            current packument, gzip'd: a hard link to its revision file
///     revisions/<rev>.json.gz      the current and up to `packumentRevisionsKept` previous revisions
///     original-name.txt            only when the encoded name is the hashed form
///     <basename>-<version>.tgz     verified tarballs, the registry's original bytes
/// ```
///
/// `<shard>` is the first `shardLength` lowercase hex digits of SHA-256 of the UTF-8 name;
/// `<encoded name>`, `<rev>` and `<version>` use ``PackageNameEncoding``. Every file is written
/// to a temporary file, fsynced and renamed into place, so readers never see a partial file.
///
/// All methods do blocking file I/O: call them off the cooperative thread pool (for example
/// on NIO's `NIOThreadPool`). The store has no in-memory state. Within a process the pipeline keeps
/// one writer per package; across processes (consumers sharing a store while the group rebalances)
/// ``withPackageLock(name:_:)`` serialises a package's writers, and a packument only ever moves to
/// a newer revision (``storePackument(name:rev:json:deferringDirectorySync:)``). Temporary names are
/// random, so concurrent writers cannot corrupt a file either.
public struct PackageStore: Sendable {
    /// `REMOTE_PACKAGE_DIR`: where packages are kept.
    public let root: String
    /// `LOCAL_PACKAGE_DIR`: where downloads and packuments are written before being moved into
    /// the store. Owned by one process: ``cleanScratch()`` empties it of temporary files.
    public let scratch: String
    /// `SUBDIRECTORY_HASH_LENGTH`: hex digits of the shard folder (0 to 64; 0 means no shard folder).
    public let shardLength: Int
    /// How many previous packument revisions are kept beside the current one.
    public let packumentRevisionsKept: Int

    var operations: FileOperations
    /// When set, every packument revision made current is appended to this file as a line
    /// `<name>\t<rev>` (a diagnostic: the reliability suite checks no package's revision ever went
    /// back). Lines of several processes interleave whole (O_APPEND, one write each).
    public var writeLog: String?

    static let packumentFileName = "packument.json.gz"
    /// The current revision's name, as plain text, in stores written before it was read from the hard link.
    static let legacyRevisionMarkerFileName = "packument.rev"
    static let revisionsFolderName = "revisions"
    static let revisionSuffix = ".json.gz"
    static let originalNameFileName = "original-name.txt"
    static let tarballSuffix = ".tgz"
    /// Prefix of tarball file names that would be too long with the package's basename.
    static let shortTarballPrefix = "%%v-"

    /// Creates the root and scratch directories when missing.
    ///
    /// - Throws: ``StoreError`` (`invalid_configuration`, or a disk error creating the directories).
    /// - Parameter durability: how writes are made durable (``StoreDurability``); `eachFile` by
    ///   default, `grouped` for a process whose concurrent changes can share their flushes.
    public init(root: String, scratch: String, shardLength: Int = 2, packumentRevisionsKept: Int = 2, durability: StoreDurability = .eachFile) throws {
        try self.init(
            root: root,
            scratch: scratch,
            shardLength: shardLength,
            packumentRevisionsKept: packumentRevisionsKept,
            operations: FileOperations()
        )
        if durability == .grouped {
            operations.syncGroup = try SyncGroup(folders: [self.root, self.scratch])
        }
    }

    init(root: String, scratch: String, shardLength: Int, packumentRevisionsKept: Int, operations: FileOperations) throws {
        func normalised(_ path: String) -> String {
            var path = path
            while path.count > 1, path.hasSuffix("/") { path.removeLast() }
            return path
        }
        let root = normalised(root)
        let scratch = normalised(scratch)
        guard !root.isEmpty, !scratch.isEmpty else { throw StoreError.invalidConfiguration("root and scratch must be set") }
        guard root != scratch else { throw StoreError.invalidConfiguration("root and scratch must differ (\(root))") }
        guard (0...64).contains(shardLength) else {
            throw StoreError.invalidConfiguration("shardLength must be 0...64, got \(shardLength)")
        }
        guard packumentRevisionsKept >= 0 else {
            throw StoreError.invalidConfiguration("packumentRevisionsKept must be >= 0, got \(packumentRevisionsKept)")
        }
        self.root = root
        self.scratch = scratch
        self.shardLength = shardLength
        self.packumentRevisionsKept = packumentRevisionsKept
        self.operations = operations
        try operations.makeDirectories(root)
        try operations.makeDirectories(scratch)
    }

    // MARK: Paths

    /// The package's folder relative to ``root`` (for records): `<shard>/<encoded name>`.
    public func packageDirectory(for name: String) -> String {
        let encoded = PackageNameEncoding.encode(name)
        guard shardLength > 0 else { return encoded }
        let shard = SHA256Hex.of(name).prefix(shardLength)
        return "\(shard)/\(encoded)"
    }

    /// The package's folder as an absolute (or root-based) path.
    public func absolutePackageDirectory(for name: String) -> String {
        root + "/" + packageDirectory(for: name)
    }

    /// The tarball's file name inside the package folder: `<basename>-<version>.tgz`, where
    /// basename is the name without its `@scope/`, both escaped; or `%%v-<version>.tgz` when
    /// that would pass 255 bytes.
    ///
    /// - Throws: ``StoreError`` `invalid_name` for an empty name or version, or a version whose
    ///   escaped form is still too long.
    public func tarballFileName(name: String, version: String) throws -> String {
        try Self.validate(name: name)
        guard !version.isEmpty else { throw StoreError.invalidName("empty version for \(name.prefix(100))") }
        let escapedVersion = PackageNameEncoding.escape(version)
        let full = PackageNameEncoding.escape(PackageName.basename(name)) + "-" + escapedVersion + Self.tarballSuffix
        if full.utf8.count <= 255 { return full }
        let short = Self.shortTarballPrefix + escapedVersion + Self.tarballSuffix
        guard short.utf8.count <= 255 else { throw StoreError.invalidName("version too long: \(version.prefix(100))…") }
        return short
    }

    /// The tarball's path relative to ``root``.
    public func tarballPath(name: String, version: String) throws -> String {
        packageDirectory(for: name) + "/" + (try tarballFileName(name: name, version: version))
    }

    /// The package name for a package folder relative to ``root`` (`<shard>/<encoded name>`):
    /// decoded from the folder name, or read from `original-name.txt` for hashed names.
    public func packageName(forDirectory directory: String) -> String? {
        let component = String(directory.split(separator: "/").last ?? "")
        if let decoded = PackageNameEncoding.decode(component) { return decoded }
        guard PackageNameEncoding.isHashed(component) else { return nil }
        guard let bytes = try? operations.readFile(root + "/" + directory + "/" + Self.originalNameFileName, maxBytes: 1 << 20) else { return nil }
        return String(validating: bytes, as: UTF8.self)
    }

    static func validate(name: String) throws {
        guard !name.isEmpty else { throw StoreError.invalidName("empty package name") }
    }

    /// Creates the package folder, and writes `original-name.txt` when the name is hashed.
    func preparePackageDirectory(for name: String) throws -> String {
        try Self.validate(name: name)
        let directory = absolutePackageDirectory(for: name)
        try operations.makeDirectories(directory)
        if PackageNameEncoding.isHashed(PackageNameEncoding.encode(name)) {
            let namePath = directory + "/" + Self.originalNameFileName
            if !operations.exists(namePath) {
                try Array(name.utf8).withUnsafeBytes {
                    try operations.writeAtomically($0, to: namePath, temporaryDirectory: scratch)
                }
            }
        }
        return directory
    }
}

enum SHA256Hex {
    static func of(_ text: String) -> String {
        Hex.encode(SHA256.hash(data: Array(text.utf8)))
    }
}
