import NIOCore

extension PackageStore {
    /// The folder, beside the tarballs, where a version's attestations response (the registry's
    /// answer to `/-/npm/v1/attestations/<name>@<version>`) is kept byte for byte, gzip'd:
    /// `attestations/<escaped version>.json.gz`.
    public static let attestationsFolderName = "attestations"
    static let attestationsSuffix = ".json.gz"

    /// The stored attestations file of `version`, relative to ``root``.
    ///
    /// - Throws: ``StoreError`` `invalid_name` for an invalid name, an empty version or one whose
    ///   escaped form passes 255 bytes.
    public func attestationsPath(name: String, version: String) throws -> String {
        packageDirectory(for: name) + "/" + Self.attestationsFolderName + "/" + (try Self.attestationsFileName(name: name, version: version))
    }

    /// Stores a version's attestations response, gzip'd, atomically (temporary file in scratch,
    /// fsync, rename; the folder is synced), replacing an earlier one.
    ///
    /// - Parameter deferringDirectorySync: under ``StoreDurability/grouped``, leave the folder sync
    ///   to the caller's ``makeDurable()``; ignored with ``StoreDurability/eachFile``.
    /// - Returns: the file's path relative to ``root``.
    /// - Throws: ``StoreError``.
    @discardableResult
    public func storeAttestations(name: String, version: String, json: some Collection<UInt8>, deferringDirectorySync: Bool = false) throws -> String {
        let fileName = try Self.attestationsFileName(name: name, version: version)
        let directory = try preparePackageDirectory(for: name) + "/" + Self.attestationsFolderName
        try operations.makeDirectories(directory)
        let compressed = try Gzip.compress(json)
        try compressed.withUnsafeReadableBytes { bytes in
            try operations.writeAtomically(bytes, to: directory + "/" + fileName, temporaryDirectory: scratch, syncingDirectory: !operations.defersDirectorySync(deferringDirectorySync))
        }
        return packageDirectory(for: name) + "/" + Self.attestationsFolderName + "/" + fileName
    }

    /// A version's stored attestations response, decompressed; nil when none is stored.
    ///
    /// - Throws: ``StoreError`` (`corrupt_stored_file` when it does not gunzip or is over `maxBytes`).
    public func readAttestations(name: String, version: String, maxBytes: Int = 16 << 20) throws -> [UInt8]? {
        let path = root + "/" + (try attestationsPath(name: name, version: version))
        guard let compressed = try operations.readFile(path, maxBytes: maxBytes) else { return nil }
        return try Gzip.decompress(compressed, maxSize: maxBytes)
    }

    /// The versions whose attestations are stored, sorted.
    public func storedAttestationVersions(name: String) throws -> [String] {
        try Self.validate(name: name)
        let directory = absolutePackageDirectory(for: name) + "/" + Self.attestationsFolderName
        return (try operations.contents(ofDirectory: directory) ?? [])
            .filter { $0.hasSuffix(Self.attestationsSuffix) && !$0.hasPrefix(temporaryFilePrefix) }
            .compactMap { PackageNameEncoding.decode(String($0.dropLast(Self.attestationsSuffix.count))) }
            .sorted()
    }

    /// Removes the stored attestations of the versions not in `versions` (with their tarballs,
    /// by ``prune(name:keep:)``).
    func pruneAttestations(name: String, keep versions: Set<String>) throws {
        let directory = absolutePackageDirectory(for: name) + "/" + Self.attestationsFolderName
        var removed = false
        for version in try storedAttestationVersions(name: name) where !versions.contains(version) {
            try operations.removeFile(directory + "/" + (try Self.attestationsFileName(name: name, version: version)))
            removed = true
        }
        if removed { try operations.syncDirectory(directory) }
    }

    static func attestationsFileName(name: String, version: String) throws -> String {
        try validate(name: name)
        guard !version.isEmpty else { throw StoreError.invalidName("empty version for \(name.prefix(100))") }
        let fileName = PackageNameEncoding.escape(version) + attestationsSuffix
        guard fileName.utf8.count <= 255 else { throw StoreError.invalidName("version too long: \(version.prefix(100))…") }
        return fileName
    }
}
