import CArchive
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// What a tarball that passed inspection contains.
public struct TarballSummary: Hashable, Sendable {
    /// Number of tar entries (files, folders, links).
    public let entryCount: Int
    /// Sum of the sizes of the regular files, as unpacked.
    public let unpackedBytes: Int64
    /// The top-level folder holding `package.json` (normally `package`).
    public let packageFolder: String
    /// `name` from `package.json`.
    public let packageName: String
    /// `version` from `package.json`, as written there.
    public let packageVersion: String
}

/// Checks that a file is a gzip'd tar that is safe to unpack and is the expected package.
///
/// The file is read from disk in a streaming way (libarchive, 64 KiB blocks): memory does not
/// grow with the tarball size. Checks, in order of discovery:
///
/// - the file starts with the gzip magic and is gzip'd exactly once (`not_gzip`), and gzip and
///   tar both read to the end without error (`corrupt_archive`, which includes truncation);
/// - at most ``Limits-swift.struct/maxEntries`` entries (`too_many_entries`, refused as soon as
///   the count is passed) and at most ``Limits-swift.struct/maxUnpackedBytes`` in regular files,
///   counted from the headers before any data is read (`too_large`);
/// - no entry path is absolute (`/x`, `\x`, `C:x`: `absolute_path`) or has a `..` component
///   (`path_traversal`); `\` counts as a separator too, as it does for npm on Windows;
/// - symlink targets are resolved against the entry's folder and must stay inside the entry's
///   top-level folder (npm unpacks with the first path component stripped); hardlink targets
///   are archive paths and must be relative without `..` (`link_escapes`);
/// - only files, folders, symlinks and hardlinks (`unsupported_entry_type`);
/// - `<top>/package.json` exists, where `<top>` is `package` if that exists, or otherwise the
///   single top-level folder that has a `package.json` (some real tarballs use another folder
///   name) — several candidates without `package` is `missing_package_json`;
/// - it is a JSON object with string `name` and `version` (`malformed_package_json`) equal to the
///   expected ones (`package_json_mismatch`); versions are compared after trimming white space
///   and a leading `v` or `=`, as npm's `semver.clean` does.
///
/// This does blocking file I/O: call it off the cooperative thread pool.
public struct TarballInspector: Sendable {
    public struct Limits: Sendable, Hashable {
        /// Largest total size of regular files when unpacked. Default 2 GiB.
        public var maxUnpackedBytes: Int64
        /// Most entries. Default 200,000.
        public var maxEntries: Int
        /// Largest `package.json`. Default 8 MiB.
        public var maxPackageJSONBytes: Int

        public init(maxUnpackedBytes: Int64 = 2 << 30, maxEntries: Int = 200_000, maxPackageJSONBytes: Int = 8 << 20) {
            precondition(maxUnpackedBytes > 0 && maxEntries > 0 && maxPackageJSONBytes > 0, "tarball limits must be positive")
            self.maxUnpackedBytes = maxUnpackedBytes
            self.maxEntries = maxEntries
            self.maxPackageJSONBytes = maxPackageJSONBytes
        }
    }

    public var limits: Limits

    public init(limits: Limits = Limits()) {
        self.limits = limits
    }

    /// Inspects the tarball at `path`.
    ///
    /// - Throws: ``TarballVerificationError``.
    public func inspect(fileAt path: String, expectedName: String, expectedVersion: String) throws -> TarballSummary {
        try Self.checkGzipMagic(path)
        var reader = try LibArchiveReader(path: path)
        return try inspect(&reader, expectedName: expectedName, expectedVersion: expectedVersion)
    }

    /// Inspects a whole tarball held in memory: the same checks as ``inspect(fileAt:expectedName:expectedVersion:)``,
    /// without a file.
    ///
    /// - Throws: ``TarballVerificationError``.
    public func inspect(bytes: UnsafeRawBufferPointer, expectedName: String, expectedVersion: String) throws -> TarballSummary {
        guard bytes.count >= 2, bytes[0] == 0x1F, bytes[1] == 0x8B else {
            throw TarballVerificationError(.notGzip, "the file does not start with the gzip magic bytes 1f 8b")
        }
        var reader = try LibArchiveReader(memory: bytes)
        return try inspect(&reader, expectedName: expectedName, expectedVersion: expectedVersion)
    }

    private func inspect(_ reader: inout LibArchiveReader, expectedName: String, expectedVersion: String) throws -> TarballSummary {
        var entryCount = 0
        var unpackedBytes: Int64 = 0
        var packageJSONs: [String: [UInt8]] = [:]
        var topFolders: [String] = []

        while let entry = try reader.nextHeader() {
            if entryCount == 0 { try reader.checkSingleGzipFilter() }
            entryCount += 1
            if entryCount > limits.maxEntries {
                throw TarballVerificationError(.tooManyEntries, "more than \(limits.maxEntries) entries")
            }
            guard let rawPath = entry.pathname else {
                throw TarballVerificationError(.corruptArchive, "entry \(entryCount) has no path")
            }
            let components = try Self.checkedComponents(rawPath)
            let display = String(decoding: rawPath, as: UTF8.self)

            if let target = entry.hardlinkTarget {
                guard Self.isSafeHardlinkTarget(target) else {
                    throw TarballVerificationError(.linkEscapes, "hardlink \(display) -> \(String(decoding: target, as: UTF8.self))")
                }
            } else {
                switch entry.fileType {
                case LibArchiveReader.fileTypeRegular:
                    let size = entry.size
                    guard size >= 0 else { throw TarballVerificationError(.corruptArchive, "negative size for \(display)") }
                    unpackedBytes += size
                    if unpackedBytes > limits.maxUnpackedBytes {
                        throw TarballVerificationError(
                            .tooLarge,
                            "unpacked size over \(limits.maxUnpackedBytes) bytes at \(display) (\(size) bytes)"
                        )
                    }
                case LibArchiveReader.fileTypeDirectory:
                    break
                case LibArchiveReader.fileTypeSymlink:
                    let target = entry.symlinkTarget ?? []
                    guard Self.isSafeSymlinkTarget(target, entryComponents: components) else {
                        throw TarballVerificationError(.linkEscapes, "symlink \(display) -> \(String(decoding: target, as: UTF8.self))")
                    }
                default:
                    throw TarballVerificationError(
                        .unsupportedEntryType,
                        "\(display) has file type 0o\(String(entry.fileType, radix: 8))"
                    )
                }
            }

            if let top = components.first, !topFolders.contains(top), topFolders.count < 16 { topFolders.append(top) }

            let isPackageJSON =
                components.count == 2 && components[1] == "package.json"
                && entry.hardlinkTarget == nil && entry.fileType == LibArchiveReader.fileTypeRegular
            if isPackageJSON {
                if entry.size > Int64(limits.maxPackageJSONBytes) {
                    throw TarballVerificationError(.tooLarge, "\(display) is \(entry.size) bytes, over \(limits.maxPackageJSONBytes)")
                }
                packageJSONs[components[0]] = try reader.readData(maxBytes: limits.maxPackageJSONBytes)
            } else {
                try reader.skipData()
            }
        }

        let folder: String
        if packageJSONs["package"] != nil {
            folder = "package"
        } else if packageJSONs.count == 1, let only = packageJSONs.keys.first {
            folder = only
        } else if packageJSONs.isEmpty {
            throw TarballVerificationError(
                .missingPackageJSON,
                "no <folder>/package.json among \(entryCount) entries (top-level: \(topFolders.joined(separator: ", ")))"
            )
        } else {
            throw TarballVerificationError(
                .missingPackageJSON,
                "several top-level folders with a package.json and none named package: \(packageJSONs.keys.sorted().joined(separator: ", "))"
            )
        }
        let (name, version) = try Self.parsePackageJSON(packageJSONs[folder]!, folder: folder)
        guard name == expectedName, Self.cleanVersion(version) == Self.cleanVersion(expectedVersion) else {
            throw TarballVerificationError(
                .packageJSONMismatch,
                "\(folder)/package.json is \(name)@\(version), expected \(expectedName)@\(expectedVersion)"
            )
        }
        return TarballSummary(
            entryCount: entryCount,
            unpackedBytes: unpackedBytes,
            packageFolder: folder,
            packageName: name,
            packageVersion: version
        )
    }

    // MARK: Checks

    static func checkGzipMagic(_ path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw TarballVerificationError(.ioError, "cannot open \(path): errno \(errno)") }
        defer { close(fd) }
        var magic: [UInt8] = [0, 0]
        let count = magic.withUnsafeMutableBytes { read(fd, $0.baseAddress, 2) }
        guard count == 2, magic == [0x1F, 0x8B] else {
            throw TarballVerificationError(.notGzip, "the file does not start with the gzip magic bytes 1f 8b")
        }
    }

    private static let slash = UInt8(ascii: "/")
    private static let backslash = UInt8(ascii: "\\")

    /// Splits on `/` and `\`, dropping empty and `.` components.
    static func components(_ path: [UInt8]) -> [String] {
        path.split(whereSeparator: { $0 == slash || $0 == backslash })
            .map { String(decoding: $0, as: UTF8.self) }
            .filter { $0 != "." }
    }

    static func isAbsolute(_ path: [UInt8]) -> Bool {
        guard let first = path.first else { return false }
        if first == slash || first == backslash { return true }
        // A Windows drive (`C:`), which npm on Windows would honour.
        if path.count >= 2, path[1] == UInt8(ascii: ":"),
            (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(first | 0x20)
        {
            return true
        }
        return false
    }

    /// The normalised components of a safe entry path.
    static func checkedComponents(_ path: [UInt8]) throws -> [String] {
        let display = String(decoding: path, as: UTF8.self)
        if isAbsolute(path) { throw TarballVerificationError(.absolutePath, "entry \(display) is absolute") }
        let components = components(path)
        if components.contains("..") { throw TarballVerificationError(.pathTraversal, "entry \(display) has a .. component") }
        if components.isEmpty { throw TarballVerificationError(.corruptArchive, "entry with an empty path") }
        return components
    }

    /// Hardlink targets name another entry of the archive: relative, no `..`.
    static func isSafeHardlinkTarget(_ target: [UInt8]) -> Bool {
        !target.isEmpty && !isAbsolute(target) && !components(target).contains("..") && !components(target).isEmpty
    }

    /// Symlink targets are resolved against the entry's folder and must not leave the entry's
    /// top-level folder (the package root once npm strips the first component).
    static func isSafeSymlinkTarget(_ target: [UInt8], entryComponents: [String]) -> Bool {
        if isAbsolute(target) { return false }
        var stack = Array(entryComponents.dropLast())
        for component in components(target) {
            if component == ".." {
                if stack.count <= 1 { return false }
                stack.removeLast()
            } else {
                stack.append(component)
            }
        }
        return true
    }

    static func parsePackageJSON(_ bytes: [UInt8], folder: String) throws -> (name: String, version: String) {
        var data = Data(bytes)
        if data.starts(with: [0xEF, 0xBB, 0xBF]) { data.removeFirst(3) }
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw TarballVerificationError(.malformedPackageJSON, "\(folder)/package.json is not valid JSON")
        }
        guard let dictionary = object as? [String: Any] else {
            throw TarballVerificationError(.malformedPackageJSON, "\(folder)/package.json is not a JSON object")
        }
        guard let name = dictionary["name"] as? String, let version = dictionary["version"] as? String else {
            throw TarballVerificationError(.malformedPackageJSON, "\(folder)/package.json lacks a string name or version")
        }
        return (name, version)
    }

    /// `semver.clean` light: trims white space and a leading `=` or `v`.
    static func cleanVersion(_ version: String) -> Substring {
        var trimmed = Substring(version.trimmingCharacters(in: .whitespacesAndNewlines))
        while let first = trimmed.first, first == "=" || first == "v" || first == "V" { trimmed = trimmed.dropFirst() }
        return trimmed
    }
}
