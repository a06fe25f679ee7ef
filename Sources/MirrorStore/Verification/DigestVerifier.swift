import Crypto
import MirrorJSON
import NIOCore

import Foundation

/// A hash algorithm usable in `dist.integrity` (SRI) or `dist.shasum`.
public struct DigestAlgorithm: Hashable, Sendable, CustomStringConvertible {
    let name: String
    /// Higher is stronger; the strongest algorithm present in an SRI string is the one checked.
    let strength: Int
    let digestLength: Int

    public static let sha512 = DigestAlgorithm(name: "sha512", strength: 4, digestLength: 64)
    public static let sha384 = DigestAlgorithm(name: "sha384", strength: 3, digestLength: 48)
    public static let sha256 = DigestAlgorithm(name: "sha256", strength: 2, digestLength: 32)
    public static let sha1 = DigestAlgorithm(name: "sha1", strength: 1, digestLength: 20)

    static let all: [DigestAlgorithm] = [.sha512, .sha384, .sha256, .sha1]

    public var description: String { name }
}

/// The digests a tarball must match, taken from a packument's `dist`.
public struct ExpectedDigest: Hashable, Sendable {
    /// The algorithm that will be checked.
    public let algorithm: DigestAlgorithm
    /// Acceptable digests (raw bytes); matching any one is enough.
    let candidates: [[UInt8]]
    /// Where the digests came from: `"integrity"` or `"shasum"`.
    public let source: String

    /// Picks what to check from `dist.integrity` and `dist.shasum`.
    ///
    /// `integrity` is an SRI string: whitespace-separated `<alg>-<base64>[?options]` tokens.
    /// Tokens with an unknown algorithm or bad base64 are ignored. As in the SRI specification
    /// (and npm's `ssri`), only the strongest algorithm present is checked, and the bytes are
    /// accepted when they match any token of that algorithm: listing a weak `sha1-` next to a
    /// `sha512-` does not let a sha1 collision through. Only when `integrity` is absent or holds
    /// no usable token is `shasum` (40 hex digits, any case) used.
    ///
    /// - Throws: ``TarballVerificationError`` with reason `no_usable_digest`.
    public init(integrity: String?, shasum: String?) throws {
        var byAlgorithm: [DigestAlgorithm: [[UInt8]]] = [:]
        for token in (integrity ?? "").split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }) {
            guard let dash = token.firstIndex(of: "-") else { continue }
            let name = token[..<dash].lowercased()
            var value = token[token.index(after: dash)...]
            if let question = value.firstIndex(of: "?") { value = value[..<question] }
            guard let algorithm = DigestAlgorithm.all.first(where: { $0.name == name }),
                let decoded = Data(base64Encoded: String(value)), decoded.count == algorithm.digestLength
            else { continue }
            byAlgorithm[algorithm, default: []].append(Array(decoded))
        }
        if let strongest = byAlgorithm.keys.max(by: { $0.strength < $1.strength }) {
            self.algorithm = strongest
            self.candidates = byAlgorithm[strongest]!
            self.source = "integrity"
            return
        }
        if let shasum, let bytes = Hex.decode(String(shasum.filter { !$0.isWhitespace })),
            bytes.count == DigestAlgorithm.sha1.digestLength
        {
            self.algorithm = .sha1
            self.candidates = [bytes]
            self.source = "shasum"
            return
        }
        throw TarballVerificationError(
            .noUsableDigest,
            "no supported digest in integrity \(integrity.map { "\"\($0.prefix(120))\"" } ?? "nil") or shasum \(shasum.map { "\"\($0.prefix(60))\"" } ?? "nil")"
        )
    }

}

/// Proof that some bytes matched an ``ExpectedDigest``; made only by ``DigestVerifier/finalize()``.
public struct DigestMatch: Hashable, Sendable {
    public let algorithm: DigestAlgorithm
    /// The digest in SRI form, `<alg>-<base64>`.
    public let integrity: String
    /// How many bytes were hashed.
    public let byteCount: Int64
}

/// Hashes a download chunk by chunk, as it is written to disk, and then checks the digest.
///
/// ```swift
/// var verifier = try DigestVerifier(integrity: dist.integrity, shasum: dist.shasum)
/// for try await buffer in response.body {
///     verifier.update(buffer)
///     try writer.write(buffer)
/// }
/// let match = try verifier.finalize()   // throws integrityMismatch
/// ```
///
/// Not `Sendable`: swift-crypto's running hashes are not; keep it in the task that downloads.
public struct DigestVerifier {
    private enum RunningHash {
        case sha512(SHA512)
        case sha384(SHA384)
        case sha256(SHA256)
        case sha1(Insecure.SHA1)
    }

    public let expected: ExpectedDigest
    private var hash: RunningHash
    /// Bytes fed so far.
    public private(set) var byteCount: Int64 = 0

    public init(expected: ExpectedDigest) {
        self.expected = expected
        switch expected.algorithm {
        case .sha512: hash = .sha512(SHA512())
        case .sha384: hash = .sha384(SHA384())
        case .sha256: hash = .sha256(SHA256())
        default: hash = .sha1(Insecure.SHA1())
        }
    }

    /// - Throws: ``TarballVerificationError`` with reason `no_usable_digest`.
    public init(integrity: String?, shasum: String?) throws {
        self.init(expected: try ExpectedDigest(integrity: integrity, shasum: shasum))
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        byteCount += Int64(bytes.count)
        switch hash {
        case .sha512(var h): h.update(bufferPointer: bytes); hash = .sha512(h)
        case .sha384(var h): h.update(bufferPointer: bytes); hash = .sha384(h)
        case .sha256(var h): h.update(bufferPointer: bytes); hash = .sha256(h)
        case .sha1(var h): h.update(bufferPointer: bytes); hash = .sha1(h)
        }
    }

    public mutating func update(_ buffer: ByteBuffer) {
        buffer.withUnsafeReadableBytes { update($0) }
    }

    public mutating func update(_ bytes: some Sequence<UInt8>) {
        let contiguous: Void? = bytes.withContiguousStorageIfAvailable { storage in
            update(UnsafeRawBufferPointer(storage))
        }
        if contiguous == nil {
            Array(bytes).withUnsafeBytes { update($0) }
        }
    }

    /// The digest of everything fed, checked against the expected ones.
    ///
    /// - Throws: ``TarballVerificationError`` with reason `integrity_mismatch`.
    public func finalize() throws -> DigestMatch {
        let digest: [UInt8]
        switch hash {
        case .sha512(let h): digest = Array(h.finalize())
        case .sha384(let h): digest = Array(h.finalize())
        case .sha256(let h): digest = Array(h.finalize())
        case .sha1(let h): digest = Array(h.finalize())
        }
        let integrity = "\(expected.algorithm)-\(Data(digest).base64EncodedString())"
        guard expected.candidates.contains(digest) else {
            throw TarballVerificationError(
                .integrityMismatch,
                "\(expected.source) mismatch: got \(integrity) over \(byteCount) bytes"
            )
        }
        return DigestMatch(algorithm: expected.algorithm, integrity: integrity, byteCount: byteCount)
    }
}
