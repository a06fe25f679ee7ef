import Crypto
import Foundation
import MirrorJSON
import MirrorSignatures
import Testing

@Suite("Registry signatures")
struct SignatureVerifierTests {
    let verifier = SignatureVerifier(keys: .npmBuiltIn)

    @Test("every valid vector verifies (retired key: kms-demo, sigstore; current key: pnpm)")
    func validVectors() throws {
        let vectors = try Fixtures.vectors("valid")
        #expect(vectors.count == 3)
        #expect(Set(vectors.flatMap { $0.signatures.map(\.keyid) }) == [KeyIDs.retired, KeyIDs.current])
        for vector in vectors {
            // No time: 2015-01-01, before the retired key's expiry.
            let verdict = verifier.verify(
                packageName: vector.name, version: vector.version, integrity: vector.integrity,
                signatures: vector.signatures, publishedAt: nil)
            #expect(verdict == .verified, "\(vector.testDescription)")
        }
    }

    @Test("the invalid vectors: another message and not base64 are invalid, an unknown key id is unknown_key")
    func invalidVectors() throws {
        let vectors = try Fixtures.vectors("invalid")
        #expect(vectors.count == 3)
        let expected: [SignatureVerdict] = [.invalid, .invalid, .unknownKey]
        for (vector, expected) in zip(vectors, expected) {
            let verdict = verifier.verify(
                packageName: vector.name, version: vector.version, integrity: vector.integrity,
                signatures: vector.signatures, publishedAt: nil)
            #expect(verdict == expected, "\(vector.testDescription)")
        }
    }

    @Test("the retired key: published 1 ms before its expiry verifies; at and after it, expired_key")
    func expiryBoundary() throws {
        let vector = try Fixtures.vector("kms-demo")
        func verdict(_ publishedAt: String) throws -> SignatureVerdict {
            verifier.verify(
                packageName: vector.name, version: vector.version, integrity: vector.integrity,
                signatures: vector.signatures, publishedAt: try time(publishedAt))
        }
        #expect(try verdict("2025-01-28T23:59:59.999Z") == .verified)
        #expect(try verdict("2025-01-29T00:00:00.000Z") == .expiredKey)
        #expect(try verdict("2025-01-29T00:00:00.001Z") == .expiredKey)
        #expect(try verdict("2026-06-01T12:00:00.000Z") == .expiredKey)
        #expect(try verdict("2019-04-02T10:00:00.000Z") == .verified)
    }

    @Test("the current key has no expiry: any publish time verifies")
    func currentKeyNeverExpires() throws {
        let vector = try Fixtures.vector("pnpm")
        for publishedAt in [nil, try time("2025-06-27T10:00:00.000Z"), Date.distantFuture] {
            #expect(
                verifier.verify(
                    packageName: vector.name, version: vector.version, integrity: vector.integrity,
                    signatures: vector.signatures, publishedAt: publishedAt) == .verified)
        }
    }

    @Test("no publish time counts as 2015-01-01T00:00:00.000Z exactly")
    func defaultPublishTime() throws {
        let vector = try Fixtures.vector("kms-demo")
        let retired = try #require(TrustedKeys.npmBuiltIn[KeyIDs.retired])
        func verdict(keyExpiring expires: String) throws -> SignatureVerdict {
            let key = RegistryKey(keyid: retired.keyid, publicKey: retired.publicKey, expires: try time(expires))
            return SignatureVerifier(keys: try TrustedKeys([key])).verify(
                packageName: vector.name, version: vector.version, integrity: vector.integrity,
                signatures: vector.signatures, publishedAt: nil)
        }
        #expect(try verdict(keyExpiring: "2015-01-01T00:00:00.000Z") == .expiredKey)
        #expect(try verdict(keyExpiring: "2015-01-01T00:00:00.001Z") == .verified)
    }

    @Test("the packument's name is signed, not a version's own name field")
    func packumentNameRule() throws {
        let vector = try Fixtures.vector("kms-demo")
        // A version document whose own `name` differs from the packument's.
        let versionDocument: JSONValue = [
            "name": "kms-demo-renamed",
            "version": .string(vector.version),
            "dist": ["integrity": .string(vector.integrity), "signatures": .array(vector.signatures.map(\.json))],
        ]
        let dist = try #require(versionDocument["dist"])
        let ownName = try #require(versionDocument["name"]?.stringValue)
        #expect(verifier.verify(packageName: "kms-demo", version: vector.version, dist: dist, time: nil) == .verified)
        #expect(verifier.verify(packageName: ownName, version: vector.version, dist: dist, time: nil) == .invalid)
        #expect(
            SignatureVerifier.message(packageName: "kms-demo", version: "1.0.0", integrity: vector.integrity)
                == "kms-demo@1.0.0:\(vector.integrity)")
    }

    @Test("only name, version and integrity are signed: another version or integrity is invalid")
    func signedFields() throws {
        let vector = try Fixtures.vector("sigstore")
        #expect(
            verifier.verify(
                packageName: vector.name, version: "1.0.1", integrity: vector.integrity, signatures: vector.signatures,
                publishedAt: nil) == .invalid)
        let other = try Fixtures.vector("kms-demo").integrity
        #expect(
            verifier.verify(
                packageName: vector.name, version: vector.version, integrity: other, signatures: vector.signatures,
                publishedAt: nil) == .invalid)
    }

    @Test("no signatures: missing")
    func missing() throws {
        #expect(
            verifier.verify(packageName: "a", version: "1.0.0", integrity: "sha512-AAAA", signatures: [], publishedAt: nil)
                == .missing)
        let vector = try Fixtures.vector("kms-demo")
        for dist: JSONValue in [
            ["integrity": .string(vector.integrity)],
            ["integrity": .string(vector.integrity), "signatures": nil],
            ["integrity": .string(vector.integrity), "signatures": []],
        ] {
            #expect(verifier.verify(packageName: vector.name, version: vector.version, dist: dist, time: nil) == .missing)
        }
    }

    @Test(
        "a signature that is not base64 or not DER is invalid, not a crash",
        arguments: [
            "bogus", "", "====", "AAAA", "MEUCIQ==",
            "MEUCIDrLNspFeU5NZ6d55ycVBZIMXnPJi/XnI1Y2dlJvK8P1AiEAnXjn1IOMUd+U7YfPH+FNjwfLq+jCwfH8uaxocq+mp",
            String(repeating: "A", count: 88),
            "MEUCIDrLNspFeU5NZ6d55ycVBZIMXnPJi/XnI1Y2dlJvK8P1AiEAnXjn1IOMUd+U7YfPH+FNjwfLq+jCwfH8uaxocq+mpPk=extra",
        ])
    func malformedSignature(_ sig: String) throws {
        let vector = try Fixtures.vector("kms-demo")
        #expect(
            verifier.verify(
                packageName: vector.name, version: vector.version, integrity: vector.integrity,
                signatures: [DistSignature(keyid: KeyIDs.retired, sig: sig)], publishedAt: nil) == .invalid)
    }

    @Test("a signature in URL-safe base64 without padding reads as the same bytes")
    func urlSafeSignature() throws {
        let vector = try Fixtures.vector("kms-demo")
        let sig = urlSafe(vector.signatures[0].sig)
        #expect(sig != vector.signatures[0].sig)
        #expect(
            verifier.verify(
                packageName: vector.name, version: vector.version, integrity: vector.integrity,
                signatures: [DistSignature(keyid: KeyIDs.retired, sig: sig)], publishedAt: nil) == .verified)
    }

    @Test("a raw r‖s signature is not accepted in dist.signatures (DER only, as pacote)")
    func rawFormRejectedForDist() throws {
        let vector = try Fixtures.vector("kms-demo")
        let der = try #require(Data(base64Encoded: vector.signatures[0].sig))
        let raw = try P256.Signing.ECDSASignature(derRepresentation: der).rawRepresentation
        #expect(
            verifier.verify(
                packageName: vector.name, version: vector.version, integrity: vector.integrity,
                signatures: [DistSignature(keyid: KeyIDs.retired, sig: raw.base64EncodedString())], publishedAt: nil)
                == .invalid)
    }

    @Test("an unknown key id: unknown_key; an empty trust set knows no key")
    func unknownKey() throws {
        let vector = try Fixtures.vector("pnpm")
        let onlyRetired = SignatureVerifier(keys: try TrustedKeys([try #require(TrustedKeys.npmBuiltIn[KeyIDs.retired])]))
        #expect(
            onlyRetired.verify(
                packageName: vector.name, version: vector.version, integrity: vector.integrity,
                signatures: vector.signatures, publishedAt: nil) == .unknownKey)
        #expect(
            SignatureVerifier(keys: try TrustedKeys([])).verify(
                packageName: vector.name, version: vector.version, integrity: vector.integrity,
                signatures: vector.signatures, publishedAt: nil) == .unknownKey)
    }

    @Test("a signature under a key id whose key did not make it is invalid, not unknown")
    func wrongKeyForKeyID() throws {
        let vector = try Fixtures.vector("kms-demo")  // signed by the retired key
        let signature = DistSignature(keyid: KeyIDs.current, sig: vector.signatures[0].sig)
        #expect(
            verifier.verify(
                packageName: vector.name, version: vector.version, integrity: vector.integrity, signatures: [signature],
                publishedAt: nil) == .invalid)
    }

    @Test("several signatures: one that verifies is enough; otherwise invalid > expired_key > unknown_key")
    func precedence() throws {
        let vector = try Fixtures.vector("kms-demo")
        let good = vector.signatures[0]
        let unknown = DistSignature(keyid: "SHA256:unknown", sig: good.sig)
        let bad = DistSignature(keyid: KeyIDs.retired, sig: "bogus")
        func verdict(_ signatures: [DistSignature], publishedAt: String? = nil) throws -> SignatureVerdict {
            verifier.verify(
                packageName: vector.name, version: vector.version, integrity: vector.integrity, signatures: signatures,
                publishedAt: try publishedAt.map(time))
        }
        #expect(try verdict([unknown, bad, good]) == .verified)
        #expect(try verdict([good, bad]) == .verified)
        #expect(try verdict([unknown, bad]) == .invalid)
        #expect(try verdict([bad, unknown]) == .invalid)
        // After the retired key's expiry the good signature is expired_key.
        let late = "2025-02-01T00:00:00.000Z"
        #expect(try verdict([unknown, good], publishedAt: late) == .expiredKey)
        #expect(try verdict([good, unknown], publishedAt: late) == .expiredKey)
        #expect(try verdict([good, bad], publishedAt: late) == .invalid)
        #expect(try verdict([unknown, unknown]) == .unknownKey)
    }

    @Test("a forged signature under the retired key id after its expiry is invalid, not expired_key")
    func forgeryUnderRetiredKey() throws {
        let vector = try Fixtures.vector("kms-demo")
        let forged = try P256.Signing.PrivateKey().signature(for: Data("\(vector.name)@\(vector.version):\(vector.integrity)".utf8))
        let signature = DistSignature(keyid: KeyIDs.retired, sig: forged.derRepresentation.base64EncodedString())
        #expect(
            verifier.verify(
                packageName: vector.name, version: vector.version, integrity: vector.integrity, signatures: [signature],
                publishedAt: try time("2025-02-01T00:00:00.000Z")) == .invalid)
    }

    @Test("from the packument's JSON: time[version] is used, malformed signatures are invalid")
    func fromJSON() throws {
        let vector = try Fixtures.vector("kms-demo")
        let dist: JSONValue = [
            "integrity": .string(vector.integrity), "shasum": "ignored",
            "tarball": "https://registry.npmjs.org/kms-demo/-/kms-demo-1.0.0.tgz",
            "signatures": .array(vector.signatures.map(\.json)),
        ]
        #expect(
            verifier.verify(packageName: vector.name, version: vector.version, dist: dist, time: "2019-04-02T10:00:00.000Z") == .verified)
        #expect(
            verifier.verify(packageName: vector.name, version: vector.version, dist: dist, time: "2025-01-29T00:00:00.000Z") == .expiredKey)
        // A time that is not one: no expiring key is good for it (pacote's NaN).
        #expect(verifier.verify(packageName: vector.name, version: vector.version, dist: dist, time: "not a time") == .expiredKey)
        let pnpm = try Fixtures.vector("pnpm")
        let pnpmDist: JSONValue = ["integrity": .string(pnpm.integrity), "signatures": .array(pnpm.signatures.map(\.json))]
        #expect(verifier.verify(packageName: pnpm.name, version: pnpm.version, dist: pnpmDist, time: "not a time") == .verified)

        for signatures: JSONValue in ["x", [1], [["keyid": "a"]], [["keyid": 1, "sig": "x"]], ["keyid": "a", "sig": "b"]] {
            var members = try #require(dist.objectValue)
            members["signatures"] = signatures
            #expect(verifier.verify(packageName: vector.name, version: vector.version, dist: .object(members), time: nil) == .invalid)
            #expect(throws: SignatureFormatError.self) { try DistSignature.list(from: signatures) }
        }
        // Signatures but no integrity or shasum: nothing they can sign.
        let noIntegrity: JSONValue = ["signatures": .array(vector.signatures.map(\.json))]
        #expect(verifier.verify(packageName: vector.name, version: vector.version, dist: noIntegrity, time: nil) == .invalid)
    }

    @Test("without dist.integrity, the signed integrity is pacote's sha1 form of shasum")
    func shasumFallback() throws {
        let shasum = "88a0ccfe72d6345dede50dc9d6158400be2420eb"
        let integrity = try #require(SignatureVerifier.signedIntegrity(dist: ["shasum": .string(shasum)]))
        #expect(integrity == "sha1-iKDM/nLWNF3t5Q3J1hWEAL4kIOs=")
        #expect(SignatureVerifier.signedIntegrity(dist: ["shasum": "xyz"]) == nil)
        #expect(SignatureVerifier.signedIntegrity(dist: ["integrity": "sha512-x", "shasum": .string(shasum)]) == "sha512-x")

        let signer = RegistrySigner(privateKey: P256.Signing.PrivateKey())
        let signature = try signer.distSignature(packageName: "old", version: "0.1.0", integrity: integrity)
        let dist: JSONValue = ["shasum": .string(shasum), "signatures": [signature.json]]
        #expect(
            SignatureVerifier(keys: signer.trustedKeys).verify(packageName: "old", version: "0.1.0", dist: dist, time: nil) == .verified)
    }

    @Test("verdict raw values are the snake_case labels")
    func rawValues() {
        #expect(SignatureVerdict.allCases.map(\.rawValue) == ["verified", "missing", "unknown_key", "expired_key", "invalid"])
        #expect(SignatureVerdict(rawValue: "expired_key") == .expiredKey)
    }
}
