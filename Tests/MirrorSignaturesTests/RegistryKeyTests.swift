import Crypto
import Foundation
import MirrorJSON
import MirrorSignatures
import Testing

@Suite("Registry keys")
struct RegistryKeyTests {
    @Test("the built-in keys are keys.json's: same ids, points and expiries, in order")
    func builtInMatchesFixture() throws {
        let fromFile = try TrustedKeys(contentsOfFile: Fixtures.path("keys.json"))
        #expect(TrustedKeys.npmBuiltIn == fromFile)
        #expect(TrustedKeys.npmBuiltIn.keys.map(\.keyid) == [KeyIDs.retired, KeyIDs.current])
        #expect(TrustedKeys.npmBuiltIn[KeyIDs.retired]?.expires == (try time("2025-01-29T00:00:00.000Z")))
        #expect(TrustedKeys.npmBuiltIn[KeyIDs.current]?.expires == nil)
        #expect(TrustedKeys.npmBuiltIn["SHA256:somethingElse"] == nil)
    }

    @Test("each built-in key id is the OpenSSH fingerprint of its key")
    func builtInKeyIDsAreFingerprints() {
        for key in TrustedKeys.npmBuiltIn.keys {
            #expect(RegistryKey.fingerprint(of: key.publicKey) == key.keyid)
            #expect(key.fingerprint == key.keyid)
        }
    }

    @Test("the fingerprint hashes the SSH wire encoding, not the DER bytes")
    func fingerprintConstruction() throws {
        let key = try #require(TrustedKeys.npmBuiltIn[KeyIDs.current])
        // Built by hand here: u32 length + bytes, three times.
        func sshString(_ bytes: [UInt8]) -> [UInt8] {
            let n = UInt32(bytes.count)
            return [UInt8(n >> 24), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + bytes
        }
        let q = Array(key.publicKey.x963Representation)
        #expect(q.count == 65 && q.first == 0x04)
        let wire = sshString(Array("ecdsa-sha2-nistp256".utf8)) + sshString(Array("nistp256".utf8)) + sshString(q)
        let expected = "SHA256:" + Data(SHA256.hash(data: wire)).base64EncodedString().replacingOccurrences(of: "=", with: "")
        #expect(key.fingerprint == expected)
        let overDER =
            "SHA256:"
            + Data(SHA256.hash(data: key.publicKey.derRepresentation)).base64EncodedString()
            .replacingOccurrences(of: "=", with: "")
        #expect(key.fingerprint != overDER)
        #expect(!key.fingerprint.hasSuffix("="))
    }

    @Test("a key's base64 DER round-trips to keys.json's text")
    func base64DERRoundTrip() throws {
        let entries = try #require(try Fixtures.json("keys.json")["keys"]?.arrayValue)
        for entry in entries {
            let keyid = try #require(entry["keyid"]?.stringValue)
            #expect(TrustedKeys.npmBuiltIn[keyid]?.base64DER == entry["key"]?.stringValue)
        }
    }

    @Test("the keys document is keys.json's shape and reads back as the same set")
    func keysDocumentRoundTrip() throws {
        #expect(TrustedKeys.npmBuiltIn.keysDocument == (try Fixtures.json("keys.json")))
        let reread = try TrustedKeys(keysDocument: TrustedKeys.npmBuiltIn.keysDocumentBytes)
        #expect(reread == .npmBuiltIn)
        let text = String(decoding: TrustedKeys.npmBuiltIn.keysDocumentBytes, as: UTF8.self)
        #expect(text.contains("\"expires\":\"2025-01-29T00:00:00.000Z\""))
        #expect(text.contains("\"expires\":null"))
    }

    @Test("expiry with milliseconds survives the document: 23:59:59.999 stays .999")
    func expiryMillisecondsRoundTrip() throws {
        let key = RegistryKey(
            keyid: "k", publicKey: P256.Signing.PrivateKey().publicKey, expires: try time("2030-06-30T23:59:59.999Z"))
        let set = try TrustedKeys([key])
        #expect(String(decoding: set.keysDocumentBytes, as: UTF8.self).contains("\"2030-06-30T23:59:59.999Z\""))
        #expect(try TrustedKeys(keysDocument: set.keysDocumentBytes) == set)
    }

    @Test("a document without keytype, scheme or expires is accepted; other members are ignored")
    func lenientMembers() throws {
        let key = try #require(TrustedKeys.npmBuiltIn[KeyIDs.current])
        let document = #"{"keys":[{"keyid":"\#(key.keyid)","key":"\#(key.base64DER)","extra":1}],"more":true}"#
        let set = try TrustedKeys(keysDocument: Array(document.utf8))
        #expect(set.keys == [key])
        #expect(try TrustedKeys(keysDocument: Array(#"{"keys":[]}"#.utf8)).isEmpty)
    }

    static let goodKey =
        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEY6Ya7W++7aUPzvMTrezH6Ycx3c+HOKYCcNGybJZSCJq/fd7Qa8uuAKtdIkUQtQiEKERhAmE5lMMJhP8OkDOa2g=="

    struct Malformed: CustomTestStringConvertible, Sendable {
        var document: String
        var code: SignatureFormatError.Code
        var mentions: String
        var testDescription: String { "\(code): \(mentions)" }
    }

    static let malformed: [Malformed] = [
        .init(document: "not json", code: .malformedKeys, mentions: "not JSON"),
        .init(document: "[]", code: .malformedKeys, mentions: "not a JSON object"),
        .init(document: #"{"key":[]}"#, code: .malformedKeys, mentions: "no \"keys\" array"),
        .init(document: #"{"keys":[1]}"#, code: .malformedKeys, mentions: "keys[0] is not an object"),
        .init(document: #"{"keys":[{"key":"\#(goodKey)"}]}"#, code: .malformedKeys, mentions: "keys[0] has no \"keyid\""),
        .init(document: #"{"keys":[{"keyid":"a"}]}"#, code: .malformedKeys, mentions: "keys[0] (a) has no \"key\""),
        .init(document: #"{"keys":[{"keyid":"a","key":"%%%"}]}"#, code: .invalidKey, mentions: "not base64"),
        .init(document: #"{"keys":[{"keyid":"a","key":"AAAA"}]}"#, code: .invalidKey, mentions: "not a DER"),
        .init(
            document: #"{"keys":[{"keyid":"a","keytype":"ssh-ed25519","key":"\#(goodKey)"}]}"#,
            code: .unsupportedKeyType, mentions: "keytype \"ssh-ed25519\""),
        .init(
            document: #"{"keys":[{"keyid":"a","scheme":"rsa","key":"\#(goodKey)"}]}"#,
            code: .unsupportedKeyType, mentions: "scheme \"rsa\""),
        .init(
            document: #"{"keys":[{"keyid":"a","expires":"tomorrow","key":"\#(goodKey)"}]}"#,
            code: .malformedTime, mentions: "\"tomorrow\""),
        .init(
            document: #"{"keys":[{"keyid":"a","expires":1738108800,"key":"\#(goodKey)"}]}"#,
            code: .malformedKeys, mentions: "neither a time nor null"),
        .init(
            document: #"{"keys":[{"keyid":"a","key":"\#(goodKey)"},{"keyid":"a","key":"\#(goodKey)"}]}"#,
            code: .duplicateKeyID, mentions: "a appears more than once"),
    ]

    @Test("a malformed keys document is a clear error", arguments: malformed)
    func malformedDocuments(_ example: Malformed) {
        #expect {
            try TrustedKeys(keysDocument: Array(example.document.utf8))
        } throws: { error in
            guard let error = error as? SignatureFormatError else { return false }
            return error.code == example.code && error.message.contains(example.mentions)
        }
    }

    @Test("a file that cannot be read, or holds no keys document, names the path")
    func fileErrors() throws {
        let missing = "/nonexistent/keys.json"
        #expect {
            try TrustedKeys(contentsOfFile: missing)
        } throws: { error in
            (error as? SignatureFormatError)?.code == .unreadableFile && "\(error)".contains(missing)
        }
        let notKeys = Fixtures.path("vectors.json")
        #expect {
            try TrustedKeys(contentsOfFile: notKeys)
        } throws: { error in
            (error as? SignatureFormatError)?.code == .malformedKeys && "\(error)".contains(notKeys)
        }
    }

    @Test("isGood: no expiry, or published strictly before it (milliseconds)")
    func keyExpiryRule() throws {
        let retired = try #require(TrustedKeys.npmBuiltIn[KeyIDs.retired])
        #expect(retired.isGood(forVersionPublishedAt: try time("2025-01-28T23:59:59.999Z")))
        #expect(!retired.isGood(forVersionPublishedAt: try time("2025-01-29T00:00:00.000Z")))
        #expect(!retired.isGood(forVersionPublishedAt: try time("2025-01-29T00:00:00.001Z")))
        #expect(retired.isGood(forVersionPublishedAt: nil))  // 2015-01-01
        let current = try #require(TrustedKeys.npmBuiltIn[KeyIDs.current])
        #expect(current.isGood(forVersionPublishedAt: .distantFuture))
    }
}

@Suite("Publish times")
struct PublishTimeTests {
    @Test("parses the registry's form, without fraction and with an offset, to the millisecond")
    func parse() throws {
        #expect(try time("2025-01-29T00:00:00.000Z").timeIntervalSince1970 == 1_738_108_800)
        #expect(try time("2025-01-28T23:59:59.999Z").timeIntervalSince1970 == 1_738_108_799.999)
        #expect(try time("2011-02-03T04:05:06Z").timeIntervalSince1970 == 1_296_705_906)
        #expect(try time("2025-01-29T01:00:00.000+01:00").timeIntervalSince1970 == 1_738_108_800)
        #expect(PublishTime.parse("garbage") == nil)
        #expect(PublishTime.parse("") == nil)
        #expect(PublishTime.missingTimeCutoff == (try time("2015-01-01T00:00:00.000Z")))
    }

    @Test("formats with three fraction digits, not truncating")
    func format() throws {
        for text in ["2025-01-29T00:00:00.000Z", "2025-01-28T23:59:59.999Z", "1969-12-31T23:59:59.500Z", "2015-01-01T00:00:00.010Z"] {
            #expect(PublishTime.format(try time(text)) == text)
        }
    }
}
