import Crypto
import Foundation
import MirrorJSON
import MirrorSignatures
import Testing

@Suite("Registry signer")
struct RegistrySignerTests {
    let integrity = "sha512-" + Data(SHA512.hash(data: Array("a tarball".utf8))).base64EncodedString()

    @Test("a generated key's dist signature verifies with its trusted keys, through JSON")
    func distSignatureRoundTrip() throws {
        let signer = RegistrySigner(privateKey: P256.Signing.PrivateKey())
        #expect(signer.keyid == RegistryKey.fingerprint(of: signer.privateKey.publicKey))
        #expect(signer.keyid.hasPrefix("SHA256:"))
        let signature = try signer.distSignature(packageName: "left-pad", version: "1.3.0", integrity: integrity)
        #expect(signature.keyid == signer.keyid)

        // As the simulator serves it: the signatures array inside dist, and the keys document.
        let dist = try JSONValue(
            parsing: JSONValue.object(["integrity": .string(integrity), "signatures": [signature.json]]).serializedBytes)
        let keys = try TrustedKeys(keysDocument: signer.trustedKeys.keysDocumentBytes)
        let verifier = SignatureVerifier(keys: keys)
        #expect(verifier.verify(packageName: "left-pad", version: "1.3.0", dist: dist, time: "2026-01-01T00:00:00.000Z") == .verified)
        #expect(verifier.verify(packageName: "left-pad", version: "1.3.1", dist: dist, time: nil) == .invalid)
        #expect(verifier.verify(packageName: "right-pad", version: "1.3.0", dist: dist, time: nil) == .invalid)
        // The npm keys do not know it; another generated key under the same id does not verify it.
        #expect(SignatureVerifier().verify(packageName: "left-pad", version: "1.3.0", dist: dist, time: nil) == .unknownKey)
        let impostor = RegistrySigner(privateKey: P256.Signing.PrivateKey(), keyid: signer.keyid)
        #expect(
            SignatureVerifier(keys: impostor.trustedKeys).verify(packageName: "left-pad", version: "1.3.0", dist: dist, time: nil)
                == .invalid)
    }

    @Test("a chosen key id and expiry are honoured")
    func chosenKeyIDAndExpiry() throws {
        let signer = RegistrySigner(privateKey: P256.Signing.PrivateKey(), keyid: "SHA256:simulator")
        let signature = try signer.distSignature(packageName: "a", version: "1.0.0", integrity: integrity)
        #expect(signature.keyid == "SHA256:simulator")
        let expires = try time("2026-01-01T00:00:00.000Z")
        let verifier = SignatureVerifier(keys: try TrustedKeys([signer.registryKey(expires: expires)]))
        func verdict(_ publishedAt: String) throws -> SignatureVerdict {
            verifier.verify(
                packageName: "a", version: "1.0.0", integrity: integrity, signatures: [signature], publishedAt: try time(publishedAt))
        }
        #expect(try verdict("2025-12-31T23:59:59.999Z") == .verified)
        #expect(try verdict("2026-01-01T00:00:00.000Z") == .expiredKey)
    }

    @Test("the publish attestation round-trips through the response body to verified", arguments: ["left-pad", "@scope/pkg"])
    func publishAttestationRoundTrip(_ name: String) throws {
        let signer = RegistrySigner(privateKey: P256.Signing.PrivateKey())
        let response = try signer.attestationsResponse(
            packageName: name, version: "2.0.0", integrity: integrity, registry: "http://127.0.0.1:9999")
        #expect(response.predicateTypes == [Attestation.publishPredicateType])
        let body = response.json.serializedBytes
        let verifier = ProvenanceVerifier(keys: signer.trustedKeys)
        let result = verifier.verify(attestationsBody: body, packageName: name, version: "2.0.0", integrity: integrity, publishedAt: nil)
        #expect(result.verdict == .verified, "\(result)")
        #expect(result.checks.map(\.outcome) == [.signatureVerified(keyid: signer.keyid)])

        // The statement: the subject and the predicate.
        let statement = try JSONValue(parsing: try #require(response.attestations[0].envelope.decodedPayload))
        let subject = try #require(statement["subject"]?.arrayValue?.first)
        #expect(subject["name"]?.stringValue == PackageURL.npm(name: name, version: "2.0.0"))
        #expect(subject["digest"]?["sha512"]?.stringValue == Integrity.sha512Hex(integrity))
        #expect(statement["predicate"] == ["name": .string(name), "version": "2.0.0", "registry": "http://127.0.0.1:9999"])
        #expect(response.attestations[0].bundle["verificationMaterial"]?["publicKey"]?["hint"]?.stringValue == signer.keyid)

        // Other version, other tarball, other key: not verified.
        #expect(
            verifier.verify(attestationsBody: body, packageName: name, version: "2.0.1", integrity: integrity, publishedAt: nil).verdict
                == .invalid)
        let otherIntegrity = "sha512-" + Data(SHA512.hash(data: Array("another".utf8))).base64EncodedString()
        #expect(
            verifier.verify(attestationsBody: body, packageName: name, version: "2.0.0", integrity: otherIntegrity, publishedAt: nil)
                .verdict == .invalid)
        #expect(
            ProvenanceVerifier().verify(attestationsBody: body, packageName: name, version: "2.0.0", integrity: integrity, publishedAt: nil)
                .verdict == .invalid)
    }

    @Test("an integrity without sha512 cannot be attested")
    func attestationNeedsSHA512() {
        let signer = RegistrySigner(privateKey: P256.Signing.PrivateKey())
        #expect {
            try signer.publishAttestation(packageName: "a", version: "1.0.0", integrity: "sha1-iKDM/nLWNF3t5Q3J1hWEAL4kIOs=")
        } throws: { error in
            (error as? SignatureFormatError)?.code == .malformedIntegrity
        }
    }

    @Test("the signer keeps its key: the same private key comes back")
    func keepsKey() {
        let key = P256.Signing.PrivateKey()
        let signer = RegistrySigner(privateKey: key)
        #expect(signer.privateKey.rawRepresentation == key.rawRepresentation)
        #expect(signer.registryKey().x963Representation == Array(key.publicKey.x963Representation))
    }
}
