import MirrorJSON
import Foundation

/// One hash of a Subresource Integrity string (`sha512-<base64>`), decoded.
///
/// Lockfiles write `integrity` as SRI, sometimes with several space-separated hashes
/// (`sha512-… sha1-…`). ``init(strongestOf:)`` picks the strongest one this type knows, so the
/// caller hashes the tarball with ``algorithm`` and compares with ``digest`` (this module does no
/// hashing itself).
public struct Integrity: Sendable, Hashable, CustomStringConvertible {
    /// A hash algorithm SRI may name. An open set: compare with the static members.
    public struct Algorithm: Sendable, Hashable, Comparable, CustomStringConvertible {
        /// The SRI name: `sha512`, `sha384`, `sha256`, `sha1`.
        public let name: String
        /// The digest length in bytes.
        public let digestLength: Int
        /// Higher is stronger.
        let strength: Int

        public static let sha1 = Algorithm(name: "sha1", digestLength: 20, strength: 1)
        public static let sha256 = Algorithm(name: "sha256", digestLength: 32, strength: 2)
        public static let sha384 = Algorithm(name: "sha384", digestLength: 48, strength: 3)
        public static let sha512 = Algorithm(name: "sha512", digestLength: 64, strength: 4)

        /// The algorithms this type decodes, weakest first.
        public static let known: [Algorithm] = [.sha1, .sha256, .sha384, .sha512]

        /// The algorithm SRI calls `name` (case-insensitive), or nil.
        public init?(sriName name: some StringProtocol) {
            let lower = name.lowercased()
            guard let known = Self.known.first(where: { $0.name == lower }) else { return nil }
            self = known
        }

        private init(name: String, digestLength: Int, strength: Int) {
            self.name = name
            self.digestLength = digestLength
            self.strength = strength
        }

        /// Weaker before stronger.
        public static func < (lhs: Algorithm, rhs: Algorithm) -> Bool { lhs.strength < rhs.strength }

        public var description: String { name }
    }

    /// The hash algorithm.
    public var algorithm: Algorithm
    /// The expected digest, ``Algorithm/digestLength`` bytes.
    public var digest: [UInt8]

    public init(algorithm: Algorithm, digest: [UInt8]) {
        self.algorithm = algorithm
        self.digest = digest
    }

    /// The strongest hash of `sri` among sha512, sha384, sha256 and sha1; nil when it holds none
    /// this type can decode. Items with unknown algorithms, bad base64 or a digest of the wrong
    /// length are skipped; `?options` after a hash are ignored.
    public init?(strongestOf sri: String) {
        guard let strongest = Self.all(in: sri).max(by: { $0.algorithm < $1.algorithm }) else { return nil }
        self = strongest
    }

    /// Every hash of `sri` this type can decode, in the order written.
    public static func all(in sri: String) -> [Integrity] {
        sri.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }).compactMap(Self.init(item:))
    }

    /// One `algo-base64[?options]` item.
    private init?(item: Substring) {
        guard item.utf8.count <= 1024, let dash = item.firstIndex(of: "-"),
            let algorithm = Algorithm(sriName: item[..<dash])
        else { return nil }
        var encoded = item[item.index(after: dash)...]
        if let options = encoded.firstIndex(of: "?") { encoded = encoded[..<options] }
        guard let data = Data(base64Encoded: String(encoded)), data.count == algorithm.digestLength else { return nil }
        self.init(algorithm: algorithm, digest: Array(data))
    }

    /// A sha1 integrity from the 40 hex digits Yarn classic appends to `resolved` URLs (`#<sha1>`).
    init?(sha1Hex hex: some StringProtocol) {
        guard hex.utf8.count == 40, let digest = Hex.decode(String(hex)) else { return nil }
        self.init(algorithm: .sha1, digest: digest)
    }

    /// The SRI item: `sha512-<base64>`.
    public var sri: String { "\(algorithm.name)-\(Data(digest).base64EncodedString())" }

    public var description: String { sri }

    /// Whether `computed` (the caller's hash of the tarball with ``algorithm``) equals ``digest``.
    public func matches(_ computed: some Sequence<UInt8>) -> Bool {
        digest.elementsEqual(computed)
    }
}
