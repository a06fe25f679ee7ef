import Crypto
import Foundation
import Testing

@testable import MirrorStore

@Suite("Digest verification")
struct DigestVerifierTests {
    @Test("the real foobar tarballs match their packument's integrity and shasum", arguments: ["1.0.0", "1.1.0"])
    func realTarballsMatch(version: String) throws {
        let bytes = try Fixtures.bytes("foobar-\(version).tgz")
        let dist = try Fixtures.foobarDist(version)

        var byIntegrity = try DigestVerifier(integrity: dist.integrity, shasum: dist.shasum)
        // Odd chunk sizes: the result must not depend on how the download was split.
        var offset = 0
        for size in [1, 7, 4096, 65536] where offset < bytes.count {
            let end = min(bytes.count, offset + size)
            byIntegrity.update(bytes[offset..<end])
            offset = end
        }
        byIntegrity.update(bytes[offset...])
        let match = try byIntegrity.finalize()
        #expect(match.algorithm == .sha512)
        #expect(match.integrity == dist.integrity)
        #expect(match.byteCount == 10240)

        var byShasum = try DigestVerifier(integrity: nil, shasum: dist.shasum.uppercased())
        byShasum.update(bytes)
        #expect(try byShasum.finalize().algorithm == .sha1)
    }

    @Test("one flipped byte is an integrity mismatch, for sha512 and for sha1")
    func flippedByte() throws {
        var bytes = try Fixtures.bytes("foobar-1.0.0.tgz")
        bytes[5000] ^= 0x01
        let dist = try Fixtures.foobarDist("1.0.0")
        for (integrity, shasum) in [(dist.integrity, nil), (nil, dist.shasum)] as [(String?, String?)] {
            var verifier = try DigestVerifier(integrity: integrity, shasum: shasum)
            verifier.update(bytes)
            let error = try #require(throws: TarballVerificationError.self) { try verifier.finalize() }
            #expect(error.reason == .integrityMismatch)
        }
    }

    @Test("integrity takes precedence over shasum")
    func integrityBeatsShasum() throws {
        let bytes = try Fixtures.bytes("foobar-1.0.0.tgz")
        let dist = try Fixtures.foobarDist("1.0.0")
        let other = try Fixtures.foobarDist("1.1.0")
        var verifier = try DigestVerifier(integrity: other.integrity, shasum: dist.shasum)
        verifier.update(bytes)
        #expect(throws: TarballVerificationError.self) { try verifier.finalize() }
    }

    @Test("SRI strings with several hashes: any one of the strongest algorithm may match")
    func multipleHashes() throws {
        let bytes = try Fixtures.bytes("foobar-1.1.0.tgz")
        let right = try Fixtures.foobarDist("1.1.0")
        let wrong = try Fixtures.foobarDist("1.0.0")
        let sha256 = "sha256-" + Data(SHA256.hash(data: bytes)).base64EncodedString()
        let sha384 = "sha384-" + Data(SHA384.hash(data: bytes)).base64EncodedString()
        let sha1 = "sha1-" + Data(Insecure.SHA1.hash(data: bytes)).base64EncodedString()

        let accepted = [
            "\(wrong.integrity) \(right.integrity)",
            "sha1-AAAAAAAAAAAAAAAAAAAAAAAAAAA= \(right.integrity)?opt",
            "md5-abc \(sha256)",
            sha384,
            "  \(sha1)\n",
            "bogus \(right.integrity)",
        ]
        for integrity in accepted {
            var verifier = try DigestVerifier(integrity: integrity, shasum: nil)
            verifier.update(bytes)
            #expect(throws: Never.self, "\(integrity)") { _ = try verifier.finalize() }
        }

        // A weaker matching hash does not rescue a mismatching stronger one (SRI semantics).
        var weakOnly = try DigestVerifier(integrity: "\(wrong.integrity) \(sha1)", shasum: nil)
        #expect(weakOnly.expected.algorithm == .sha512)
        weakOnly.update(bytes)
        #expect(throws: TarballVerificationError.self) { try weakOnly.finalize() }
    }

    @Test("no supported digest is reported as noUsableDigest")
    func noUsableDigest() throws {
        for (integrity, shasum) in [(nil, nil), ("md5-1B2M2Y8AsgTpgAmY7PhCfg==", nil), ("sha512-notbase64!", "xyz"), ("", "")]
            as [(String?, String?)]
        {
            let error = try #require(throws: TarballVerificationError.self) {
                _ = try DigestVerifier(integrity: integrity, shasum: shasum)
            }
            #expect(error.reason == .noUsableDigest)
        }
    }
}
