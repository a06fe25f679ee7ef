#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

extension PackageStore {
    /// The folder, beside the packument, where `npm-mirror serve` keeps the documents it derives
    /// from a stored packument revision (see `MirrorServe`). Derived files can always be made again
    /// from the packument: removing the folder loses nothing.
    public static let servedFolderName = "served"

    /// The package's `served/` folder (absolute, or root-based).
    public func servedDirectory(for name: String) -> String {
        absolutePackageDirectory(for: name) + "/" + Self.servedFolderName
    }

    /// Writes one derived file into the package's `served/` folder, atomically: a temporary
    /// `.tmp-…` file in that same folder, fsync, rename. Several serve processes may derive the same
    /// file at once: each rename is atomic and the contents are the same, so readers always see one
    /// complete file. The package folder must exist (a packument is stored).
    ///
    /// - Throws: ``StoreError`` (`invalidName` for a file name that is not one plain component,
    ///   `notFound` when the package has no folder, or a disk error).
    public func writeServedFile(name: String, fileName: String, bytes: UnsafeRawBufferPointer) throws {
        try Self.validateServedFileName(fileName)
        let package = absolutePackageDirectory(for: name)
        guard operations.isDirectory(package) else {
            throw StoreError(code: .notFound, message: "no package folder for \(name.prefix(100))")
        }
        let directory = package + "/" + Self.servedFolderName
        try operations.makeDirectories(directory)
        try operations.writeAtomically(bytes, to: directory + "/" + fileName, temporaryDirectory: directory)
    }

    /// The derived files in the package's `served/` folder (temporary files excluded), newest first
    /// by modification time.
    public func servedFiles(name: String) throws -> [(fileName: String, modifiedNanoseconds: Int64)] {
        let directory = servedDirectory(for: name)
        var files: [(fileName: String, modifiedNanoseconds: Int64)] = []
        for file in try operations.contents(ofDirectory: directory) ?? [] where !file.hasPrefix(temporaryFilePrefix) {
            guard let status = operations.status(directory + "/" + file) else { continue }
            files.append((file, Self.modificationTime(status)))
        }
        return files.sorted { $0.modifiedNanoseconds > $1.modifiedNanoseconds }
    }

    /// Removes one derived file; a missing one is fine.
    public func removeServedFile(name: String, fileName: String) throws {
        try Self.validateServedFileName(fileName)
        try operations.removeFile(servedDirectory(for: name) + "/" + fileName)
    }

    static func validateServedFileName(_ fileName: String) throws {
        guard !fileName.isEmpty, !fileName.hasPrefix("."), !fileName.contains("/"), !fileName.utf8.contains(0),
            fileName.utf8.count <= 255
        else {
            throw StoreError.invalidName("not a served file name: \(fileName.prefix(100))")
        }
    }

    static func modificationTime(_ status: stat) -> Int64 {
        #if canImport(Darwin)
        Int64(status.st_mtimespec.tv_sec) * 1_000_000_000 + Int64(status.st_mtimespec.tv_nsec)
        #else
        Int64(status.st_mtim.tv_sec) * 1_000_000_000 + Int64(status.st_mtim.tv_nsec)
        #endif
    }
}

extension PackageStore {
    /// What identifies the stored packument's current contents: its revision, or — where hard
    /// links are not supported and the revision is unknown — the file's device, inode, size and
    /// modification time.
    public struct PackumentIdentity: Sendable, Hashable, CustomStringConvertible {
        /// The current revision, when known.
        public let revision: String?
        let file: String

        public var description: String { revision.map { "rev:" + $0 } ?? "file:" + file }
    }

    /// The identity of the package's current packument, or nil when none is stored.
    public func packumentIdentity(name: String) throws -> PackumentIdentity? {
        let directory = absolutePackageDirectory(for: name)
        guard let status = operations.status(directory + "/" + Self.packumentFileName) else { return nil }
        let file = "\(status.st_dev)-\(status.st_ino)-\(status.st_size)-\(Self.modificationTime(status))"
        return PackumentIdentity(revision: try currentRevision(inDirectory: directory), file: file)
    }
}

extension PackageStore {
    /// The path of the package's current packument file (`packument.json.gz`).
    public func packumentFilePath(for name: String) -> String {
        absolutePackageDirectory(for: name) + "/" + Self.packumentFileName
    }
}
