import MirrorJSON
import CompressNIO
import Crypto
import Foundation
import NIOCore

/// The digests and counts a packument's `dist` reports for a tarball.
struct TarballInfo: Sendable, Hashable {
    /// `sha512-<base64>`.
    var integrity: String
    /// SHA-1, lowercase hex.
    var shasum: String
    /// Bytes served.
    var size: Int
    var fileCount: Int
    var unpackedSize: Int

    init(bytes: ByteBuffer, fileCount: Int, unpackedSize: Int) {
        let (sha512, sha1) = bytes.withUnsafeReadableBytes { pointer in
            var sha512 = SHA512()
            sha512.update(bufferPointer: pointer)
            var sha1 = Insecure.SHA1()
            sha1.update(bufferPointer: pointer)
            return (sha512.finalize(), sha1.finalize())
        }
        self.integrity = "sha512-" + Data(sha512).base64EncodedString()
        self.shasum = Hex.encode(sha1)
        self.size = bytes.readableBytes
        self.fileCount = fileCount
        self.unpackedSize = unpackedSize
    }
}

/// A built tarball: its bytes and what the packument says about them.
struct BuiltTarball: Sendable {
    var bytes: ByteBuffer
    var info: TarballInfo
}

/// Builds generated tarballs: gzip'd ustar archives whose `package/package.json`
/// names the package and version, plus a README and a few sources.
enum TarballBuilder {
    static func build(_ spec: TarballSpec) throws -> BuiltTarball {
        let files = self.files(for: spec)
        var tar = ByteBufferAllocator().buffer(capacity: TarArchive.archiveSize(files))
        TarArchive.write(files, into: &tar)
        // Incompressible payloads are stored, not deflated: same bytes, much faster.
        let level: ZlibConfiguration.CompressionLevel = spec.payloadBytes >= 1 << 20 ? .noCompression : .defaultCompressionLevel
        let gzipped = try tar.compress(with: .gzip(configuration: .init(compressionLevel: level)))
        let info = TarballInfo(
            bytes: gzipped,
            fileCount: files.count,
            unpackedSize: files.reduce(0) { $0 + $1.contents.count }
        )
        return BuiltTarball(bytes: gzipped, info: info)
    }

    static func files(for spec: TarballSpec) -> [TarArchive.File] {
        var random = SplitMix64(seed: spec.seed, stream: "files")
        var manifest = JSONWriter()
        manifest.object { json in
            json.field("name", spec.packageName)
            json.field("version", spec.version)
            json.field("description", spec.description)
            json.field("main", "index.js")
            json.field("license", "MIT")
            json.objectField("scripts") { $0.field("test", "node test.js") }
        }
        var files: [TarArchive.File] = [
            .init(path: "package/package.json", contents: .bytes(manifest.bytes + [UInt8(ascii: "\n")]))
        ]
        var readme = "# \(spec.packageName)\n\n\(spec.description)\n\n"
        for _ in 0..<random.int(in: 20...200) {
            readme += random.pick(Words.nouns) + (random.chance(0.1) ? ".\n" : " ")
        }
        files.append(.init(path: "package/README.md", contents: .bytes(Array(readme.utf8))))
        var modules: [String] = []
        for index in 0..<max(1, spec.sourceFiles) {
            let module = "\(random.pick(Words.nouns))\(index)"
            modules.append(module)
            var source = "'use strict';\n\n"
            for line in 0..<random.int(in: 10...120) {
                source += "exports.\(random.pick(Words.adjectives))\(line) = function (\(random.pick(Words.nouns))) { return \(random.int(in: 0...9999)); };\n"
            }
            files.append(.init(path: "package/lib/\(module).js", contents: .bytes(Array(source.utf8))))
        }
        let index = modules.map { "module.exports.\($0) = require('./lib/\($0)');" }.joined(separator: "\n") + "\n"
        files.insert(.init(path: "package/index.js", contents: .bytes(Array(index.utf8))), at: 1)
        if spec.payloadBytes > 0 {
            files.append(.init(path: "package/dist/bundle.bin", contents: .random(count: spec.payloadBytes, seed: spec.seed)))
        }
        return files
    }
}
