import CArchive

/// Owns a libarchive read handle configured for gzip'd tar only. Internal: the public face is
/// ``TarballInspector``. Errors are ``TarballVerificationError``s with reason `corrupt_archive`
/// (or `not_gzip` for a wrong filter chain).
struct LibArchiveReader: ~Copyable {
    static let fileTypeRegular: UInt32 = 0o100000
    static let fileTypeDirectory: UInt32 = 0o040000
    static let fileTypeSymlink: UInt32 = 0o120000

    /// One header's fields, copied out of libarchive (its entry is reused by the next call).
    struct Entry {
        var pathname: [UInt8]?
        var hardlinkTarget: [UInt8]?
        var symlinkTarget: [UInt8]?
        var fileType: UInt32
        var size: Int64
    }

    private let handle: OpaquePointer

    init(path: String) throws {
        self.handle = try Self.open { archive_read_open_filename($0, path, 64 * 1024) }
    }

    /// Reads the archive from `bytes`, which must stay valid and unchanged while this reader lives.
    init(memory bytes: UnsafeRawBufferPointer) throws {
        self.handle = try Self.open { archive_read_open_memory($0, bytes.baseAddress, bytes.count) }
    }

    /// A handle for gzip'd tar only, opened by `open`.
    private static func open(_ open: (OpaquePointer) -> Int32) throws -> OpaquePointer {
        guard let handle = archive_read_new() else {
            throw TarballVerificationError(.ioError, "archive_read_new failed")
        }
        archive_read_support_filter_gzip(handle)
        archive_read_support_format_tar(handle)
        if open(handle) != ARCHIVE_OK {
            let message = errorString(handle)
            archive_read_free(handle)
            throw TarballVerificationError(.corruptArchive, "cannot open archive: \(message)")
        }
        return handle
    }

    deinit {
        archive_read_free(handle)
    }

    private static func errorString(_ handle: OpaquePointer) -> String {
        archive_error_string(handle).map { String(cString: $0) } ?? "unknown libarchive error"
    }

    private func fail(_ what: String) -> TarballVerificationError {
        TarballVerificationError(.corruptArchive, "\(what): \(Self.errorString(handle))")
    }

    /// The next header, or nil at the end of the archive.
    mutating func nextHeader() throws -> Entry? {
        var entry: OpaquePointer?
        let status = archive_read_next_header(handle, &entry)
        if status == ARCHIVE_EOF { return nil }
        guard status == ARCHIVE_OK || status == ARCHIVE_WARN, let entry else { throw fail("reading a header") }
        return Entry(
            pathname: Self.bytes(archive_entry_pathname(entry) ?? archive_entry_pathname_utf8(entry)),
            hardlinkTarget: Self.bytes(archive_entry_hardlink(entry) ?? archive_entry_hardlink_utf8(entry)),
            symlinkTarget: Self.bytes(archive_entry_symlink(entry) ?? archive_entry_symlink_utf8(entry)),
            fileType: UInt32(archive_entry_filetype(entry)),
            size: archive_entry_size_is_set(entry) != 0 ? Int64(archive_entry_size(entry)) : 0
        )
    }

    /// Exactly one gzip layer (libarchive would otherwise also unwrap gzip inside gzip).
    func checkSingleGzipFilter() throws {
        var gzipLayers = 0
        for index in 0..<archive_filter_count(handle) {
            switch archive_filter_code(handle, index) {
            case ARCHIVE_FILTER_GZIP: gzipLayers += 1
            case ARCHIVE_FILTER_NONE: break
            default: throw TarballVerificationError(.notGzip, "unexpected compression \(String(cString: archive_filter_name(handle, index)))")
            }
        }
        guard gzipLayers == 1 else {
            throw TarballVerificationError(.notGzip, "gzip'd \(gzipLayers) times")
        }
    }

    /// Reads the current entry's data (all of it, so truncation is noticed).
    mutating func readData(maxBytes: Int) throws -> [UInt8] {
        var result: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let count = buffer.withUnsafeMutableBytes { archive_read_data(handle, $0.baseAddress, $0.count) }
            if count < 0 { throw fail("reading data") }
            if count == 0 { return result }
            result.append(contentsOf: buffer[0..<count])
            if result.count > maxBytes {
                throw TarballVerificationError(.tooLarge, "entry data over \(maxBytes) bytes")
            }
        }
    }

    /// Skips the current entry's data; gzip is still decompressed, so truncation is noticed.
    mutating func skipData() throws {
        let status = archive_read_data_skip(handle)
        guard status == ARCHIVE_OK || status == ARCHIVE_WARN || status == ARCHIVE_EOF else { throw fail("skipping data") }
    }

    private static func bytes(_ pointer: UnsafePointer<CChar>?) -> [UInt8]? {
        guard let pointer else { return nil }
        var result: [UInt8] = []
        var cursor = pointer
        while cursor.pointee != 0 {
            result.append(UInt8(bitPattern: cursor.pointee))
            cursor += 1
        }
        return result
    }
}
