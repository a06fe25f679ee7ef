import CompressNIO
import NIOCore

/// gzip for packuments, through CompressNIO (the project's one home for compression).
/// Tarballs are never recompressed: they are stored as the registry's bytes.
enum Gzip {
    /// zlib level 3: on the benchmark's packuments about twice as fast as the default level 6, for
    /// files about 15 % larger (ratio 7.5 instead of 8.6); packuments are a small part of the store.
    static var configuration: ZlibConfiguration { ZlibConfiguration(compressionLevel: .compressionLevel3) }

    static func compress(_ bytes: some Collection<UInt8>) throws -> ByteBuffer {
        var input = ByteBufferAllocator().buffer(capacity: bytes.count)
        input.writeBytes(bytes)
        do {
            return try input.compress(with: .gzip(configuration: configuration))
        } catch {
            throw StoreError(code: .ioError, message: "gzip compression failed: \(error)")
        }
    }

    static func decompress(_ bytes: [UInt8], maxSize: Int) throws -> [UInt8] {
        var input = ByteBufferAllocator().buffer(capacity: bytes.count)
        input.writeBytes(bytes)
        do {
            var output = try input.decompress(with: .gzip(), maxSize: maxSize)
            return output.readBytes(length: output.readableBytes) ?? []
        } catch {
            throw StoreError.corruptStoredFile("cannot gunzip a stored packument: \(error)")
        }
    }
}

extension PackageStore {
    /// A packument gzip'd exactly as ``storePackument(name:rev:json:)`` stores it (same library,
    /// same level): for measuring that work apart from the store, as the benchmark's floor does.
    public static func compressPackument(_ json: some Collection<UInt8>) throws -> ByteBuffer {
        try Gzip.compress(json)
    }
}
