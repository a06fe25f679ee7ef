import Foundation
import MirrorLockfiles
import Testing

@Suite("Subresource Integrity")
struct IntegrityTests {
    @Test func strongestOfSeveral() throws {
        let integrity = try #require(Integrity(strongestOf: "sha1-FsOFpsvXxq0GzWpxlar65JMvzz0= \(SRI.leftPad)"))
        #expect(integrity.algorithm == .sha512)
        #expect(integrity.digest.count == 64)
        #expect(integrity.sri == SRI.leftPad)
        let sha1 = try #require(Integrity(strongestOf: "sha1-FsOFpsvXxq0GzWpxlar65JMvzz0="))
        #expect(sha1.algorithm == .sha1)
        #expect(sha1.digest == [0x16, 0xc3, 0x85, 0xa6, 0xcb, 0xd7, 0xc6, 0xad, 0x06, 0xcd, 0x6a, 0x71, 0x95, 0xaa, 0xfa, 0xe4, 0x93, 0x2f, 0xcf, 0x3d])
        #expect(sha1.matches(sha1.digest))
        #expect(!sha1.matches(sha1.digest.dropLast()))
    }

    @Test func algorithmsOrderAndOptions() throws {
        let sha256 = "sha256-" + Data(repeating: 1, count: 32).base64EncodedString()
        let sha384 = "SHA384-" + Data(repeating: 2, count: 48).base64EncodedString() + "?opt=1"
        let integrity = try #require(Integrity(strongestOf: "\(sha256)\t\(sha384)"))
        #expect(integrity.algorithm == .sha384)
        #expect(integrity.digest == Array(repeating: 2, count: 48))
        #expect(Integrity.all(in: "\(sha256) \(sha384)").map(\.algorithm) == [.sha256, .sha384])
        #expect(Integrity.Algorithm.sha1 < .sha256 && Integrity.Algorithm.sha384 < .sha512)
    }

    @Test(arguments: [
        "", "md5-1B2M2Y8AsgTpgAmY7PhCfg==", "sha512-not base64!", "sha512-AAAA",
        "sha1-" + Data(repeating: 0, count: 32).base64EncodedString(), "sha512", "-abc",
    ])
    func nothingUsable(sri: String) {
        #expect(Integrity(strongestOf: sri) == nil)
    }

    @Test func skipsBadItemsKeepsGoodOnes() throws {
        let integrity = try #require(Integrity(strongestOf: "sha512-broken \(SRI.lodash) md5-xyz"))
        #expect(integrity.sri == SRI.lodash)
    }
}
