import NIOCore

/// Writes POSIX ustar archives, the format npm packs tarballs in.
enum TarArchive {
    /// A regular file's contents.
    enum Contents: Sendable {
        case bytes([UInt8])
        /// `count` pseudo-random (incompressible) bytes from `seed`.
        case random(count: Int, seed: UInt64)

        var count: Int {
            switch self {
            case .bytes(let bytes): return bytes.count
            case .random(let count, _): return count
            }
        }
    }

    struct File: Sendable {
        var path: String
        var contents: Contents
        var mode: Int = 0o644
    }

    static let blockSize = 512

    /// The archive size for `files`, to reserve capacity up front.
    static func archiveSize(_ files: [File]) -> Int {
        files.reduce(2 * blockSize) { total, file in
            total + blockSize + (file.contents.count + blockSize - 1) / blockSize * blockSize
        }
    }

    static func write(_ files: [File], into buffer: inout ByteBuffer) {
        for file in files {
            buffer.writeBytes(self.header(path: file.path, size: file.contents.count, mode: file.mode))
            switch file.contents {
            case .bytes(let bytes):
                buffer.writeBytes(bytes)
            case .random(let count, let seed):
                var random = SplitMix64(seed: seed, stream: "payload")
                _ = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { pointer in
                    random.fill(UnsafeMutableRawBufferPointer(rebasing: pointer[..<count]))
                    return count
                }
            }
            let padding = (blockSize - file.contents.count % blockSize) % blockSize
            buffer.writeRepeatingByte(0, count: padding)
        }
        buffer.writeRepeatingByte(0, count: 2 * blockSize)
    }

    /// One 512-byte ustar header. Paths longer than 100 bytes are split into prefix/name.
    static func header(path: String, size: Int, mode: Int, mtime: Int = Timestamp.npmTarMTimeSeconds) -> [UInt8] {
        var header = [UInt8](repeating: 0, count: blockSize)
        var name = Array(path.utf8)
        var prefix: [UInt8] = []
        if name.count > 100, let split = name[..<min(name.count, 156)].lastIndex(of: UInt8(ascii: "/")) {
            prefix = Array(name[..<split])
            name = Array(name[(split + 1)...])
        }
        func put(_ bytes: [UInt8], at offset: Int, width: Int) {
            for (index, byte) in bytes.prefix(width).enumerated() { header[offset + index] = byte }
        }
        func octal(_ value: Int, width: Int) -> [UInt8] {
            let digits = String(value, radix: 8)
            return Array((String(repeating: "0", count: max(0, width - 1 - digits.count)) + digits).utf8) + [0]
        }
        put(name, at: 0, width: 100)
        put(octal(mode, width: 8), at: 100, width: 8)
        put(octal(0, width: 8), at: 108, width: 8)  // uid
        put(octal(0, width: 8), at: 116, width: 8)  // gid
        put(octal(size, width: 12), at: 124, width: 12)
        put(octal(mtime, width: 12), at: 136, width: 12)
        put(Array("        ".utf8), at: 148, width: 8)  // checksum placeholder: spaces
        header[156] = UInt8(ascii: "0")  // regular file
        put(Array("ustar".utf8) + [0], at: 257, width: 6)
        put(Array("00".utf8), at: 263, width: 2)
        put(prefix, at: 345, width: 155)
        let checksum = header.reduce(0) { $0 + Int($1) }
        let digits = String(checksum, radix: 8)
        put(Array((String(repeating: "0", count: max(0, 6 - digits.count)) + digits).utf8) + [0, UInt8(ascii: " ")], at: 148, width: 8)
        return header
    }
}
