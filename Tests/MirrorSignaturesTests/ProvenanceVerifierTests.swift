import Crypto
import Foundation
import MirrorJSON
import MirrorSignatures
import Testing

@Suite("Attestations and provenance")
struct ProvenanceVerifierTests {
    let verifier = ProvenanceVerifier(keys: .npmBuiltIn)

    /// sigstore@1.0.0's integrity, from vectors.json.
    func sigstoreIntegrity() throws -> String { try Fixtures.vector("sigstore").integrity }

    func verifySigstore(
        _ response: AttestationsResponse, verifier: ProvenanceVerifier? = nil, name: String = "sigstore",
        version: String = "1.0.0", integrity: String? = nil, publishedAt: Date? = nil
    ) throws -> ProvenanceResult {
        (verifier ?? self.verifier).verify(
            response, packageName: name, version: version, integrity: try integrity ?? sigstoreIntegrity(),
            publishedAt: publishedAt)
    }

    /// `response` with attestation `index` rebuilt from its JSON after `change`.
    func changing(
        _ response: AttestationsResponse, at index: Int, _ change: (inout [String: JSONValue]) throws -> Void
    ) throws -> AttestationsResponse {
        var attestations = response.attestations
        var members = try #require(attestations[index].json.objectValue)
        try change(&members)
        attestations[index] = try Attestation(json: .object(members))
        return AttestationsResponse(attestations: attestations)
    }

    /// `response` with attestation `index`'s DSSE envelope changed.
    func changingEnvelope(
        _ response: AttestationsResponse, at index: Int, _ change: (inout DSSEEnvelope) throws -> Void
    ) throws -> AttestationsResponse {
        try changing(response, at: index) { members in
            var bundle = try #require(members["bundle"]?.objectValue)
            var envelope = try DSSEEnvelope(json: try #require(bundle["dsseEnvelope"]))
            try change(&envelope)
            bundle["dsseEnvelope"] = envelope.json
            members["bundle"] = .object(bundle)
        }
    }

    func publishIndex(_ response: AttestationsResponse) throws -> Int {
        try #require(response.attestations.firstIndex { $0.predicateType == Attestation.publishPredicateType })
    }

    @Test("the real response parses: two attestations, SLSA provenance then the publish attestation")
    func parsesFixture() throws {
        let response = try Fixtures.sigstoreAttestations()
        #expect(response.predicateTypes == [Attestation.slsaProvenanceV02PredicateType, Attestation.publishPredicateType])
        #expect(response.publishAttestations.count == 1)
        let publish = try #require(response.publishAttestations.first)
        #expect(publish.envelope.payloadType == DSSEEnvelope.inTotoPayloadType)
        #expect(publish.envelope.signatures.map(\.keyid) == [KeyIDs.retired])
        #expect(response.attestations[0].envelope.signatures.map(\.keyid) == [""])
        #expect(publish.integratedTime == Date(timeIntervalSince1970: 1_675_965_362))
        // What was parsed is what is written back.
        #expect(response.json == (try Fixtures.json("attestations-sigstore-1.0.0.json")))
    }

    @Test("sigstore@1.0.0: the publish attestation verifies with the retired key; verdict verified")
    func verifiesFixture() throws {
        let result = try verifySigstore(try Fixtures.sigstoreAttestations())
        #expect(result.verdict == .verified)
        #expect(result.failures.isEmpty)
        #expect(
            result.checks.map(\.outcome) == [.signatureNotChecked, .signatureVerified(keyid: KeyIDs.retired)])
        #expect(result.description == "verified")
    }

    @Test("the subject is pkg:npm/sigstore@1.0.0 with the sha512 of vectors.json's integrity")
    func subjectDigestIsIntegrity() throws {
        let response = try Fixtures.sigstoreAttestations()
        let expected = try #require(Integrity.sha512Hex(try sigstoreIntegrity()))
        #expect(expected.hasPrefix("7bea9f6e7ff37f5f") && expected.count == 128)
        for attestation in response.attestations {
            let statement = try JSONValue(parsing: try #require(attestation.envelope.decodedPayload))
            let subject = try #require(statement["subject"]?.arrayValue?.first)
            #expect(subject["name"] == "pkg:npm/sigstore@1.0.0")
            #expect(subject["digest"]?["sha512"]?.stringValue == expected)
        }
    }

    @Test("a tampered payload: invalid (signature)")
    func tamperedPayload() throws {
        let response = try Fixtures.sigstoreAttestations()
        let index = try publishIndex(response)
        let tampered = try changingEnvelope(response, at: index) { envelope in
            let text = String(decoding: try #require(envelope.decodedPayload), as: UTF8.self)
            let changed = text.replacingOccurrences(of: "https://registry.npmjs.org", with: "https://registry.evil.example")
            #expect(changed != text)
            envelope.payload = Data(changed.utf8).base64EncodedString()
        }
        let result = try verifySigstore(tampered)
        #expect(result.verdict == .invalid)
        #expect(result.failures.map(\.code) == [.signature])
        #expect(result.failure?.predicateType == Attestation.publishPredicateType)
        // The payload type is signed too.
        let retyped = try changingEnvelope(response, at: index) { $0.payloadType = "application/vnd.in-toto+json " }
        #expect(try verifySigstore(retyped).failures.map(\.code) == [.payloadType])
    }

    @Test("a wrong subject digest: invalid (subject_digest), for every attestation")
    func wrongSubjectDigest() throws {
        let otherIntegrity = try Fixtures.vector("kms-demo").integrity
        let result = try verifySigstore(try Fixtures.sigstoreAttestations(), integrity: otherIntegrity)
        #expect(result.verdict == .invalid)
        #expect(result.failures.map(\.code) == [.subjectDigest, .subjectDigest])
        #expect(result.failure?.message.contains(try #require(Integrity.sha512Hex(otherIntegrity))) == true)
    }

    @Test("a statement signed by a trusted key but naming another digest: invalid (subject_digest)")
    func signedWrongDigest() throws {
        let signer = RegistrySigner(privateKey: P256.Signing.PrivateKey())
        let other = try Fixtures.vector("kms-demo").integrity
        let response = try signer.attestationsResponse(packageName: "sigstore", version: "1.0.0", integrity: other)
        let result = try verifySigstore(response, verifier: ProvenanceVerifier(keys: signer.trustedKeys))
        #expect(result.verdict == .invalid)
        #expect(result.failures.map(\.code) == [.subjectDigest])
    }

    @Test("another name or version: invalid (subject_name)")
    func wrongSubjectName() throws {
        let response = try Fixtures.sigstoreAttestations()
        for (name, version) in [("sigstore-js", "1.0.0"), ("sigstore", "1.0.1"), ("@sigstore/sigstore", "1.0.0")] {
            let result = try verifySigstore(response, name: name, version: version)
            #expect(result.verdict == .invalid)
            #expect(result.failures.map(\.code) == [.subjectName, .subjectName])
        }
    }

    @Test("a raw r‖s DSSE signature is accepted as well as DER")
    func rawSignatureForm() throws {
        let response = try Fixtures.sigstoreAttestations()
        let raw = try changingEnvelope(response, at: try publishIndex(response)) { envelope in
            let der = try #require(Data(base64Encoded: envelope.signatures[0].sig))
            let rawBytes = try P256.Signing.ECDSASignature(derRepresentation: der).rawRepresentation
            #expect(rawBytes.count == 64)
            envelope.signatures[0].sig = rawBytes.base64EncodedString()
        }
        let result = try verifySigstore(raw)
        #expect(result.verdict == .verified)
        // A 64-byte signature that is not this one's raw form still fails.
        let wrongRaw = try changingEnvelope(response, at: try publishIndex(response)) { envelope in
            envelope.signatures[0].sig = Data(repeating: 7, count: 64).base64EncodedString()
        }
        #expect(try verifySigstore(wrongRaw).failures.map(\.code) == [.signature])
    }

    @Test("URL-safe base64 is accepted for the DSSE payload and signature (DSSE allows it)")
    func urlSafeBase64() throws {
        let response = try Fixtures.sigstoreAttestations()
        let index = try publishIndex(response)
        let reencoded = try changingEnvelope(response, at: index) { envelope in
            envelope.payload = urlSafe(envelope.payload)
            envelope.signatures[0].sig = urlSafe(envelope.signatures[0].sig)
        }
        // The fixture's signature has '+' and '/', so the alphabet really changed.
        #expect(reencoded.attestations[index].envelope.signatures != response.attestations[index].envelope.signatures)
        #expect(try verifySigstore(reencoded).verdict == .verified)
    }

    @Test("malformed signatures and payloads are invalid, not a crash")
    func malformedParts() throws {
        let response = try Fixtures.sigstoreAttestations()
        let index = try publishIndex(response)
        for sig in ["bogus", "", "AAAA", "MEYCIQ=="] {
            let broken = try changingEnvelope(response, at: index) { $0.signatures[0].sig = sig }
            #expect(try verifySigstore(broken).failures.map(\.code) == [.signature], "sig \(sig)")
        }
        let notBase64 = try changingEnvelope(response, at: index) { $0.payload = "%%%" }
        #expect(try verifySigstore(notBase64).failures.map(\.code) == [.malformedPayload])
        let unsigned = try changingEnvelope(response, at: index) { $0.signatures = [] }
        #expect(try verifySigstore(unsigned).failures.map(\.code) == [.unsigned])
        let keyless = try changingEnvelope(response, at: index) { $0.signatures[0].keyid = "" }
        #expect(try verifySigstore(keyless).failures.map(\.code) == [.unsigned])
        // The SLSA statement is not signature-checked here, but its payload must still be a statement.
        let notJSON = try changingEnvelope(response, at: 0) { $0.payload = Data("not json".utf8).base64EncodedString() }
        #expect(try verifySigstore(notJSON).failures.map(\.code) == [.malformedStatement])
    }

    @Test("the response's predicateType must be the signed statement's")
    func predicateTypeMismatch() throws {
        let response = try Fixtures.sigstoreAttestations()
        let relabelled = try changing(response, at: 0) { $0["predicateType"] = .string(Attestation.slsaProvenanceV1PredicateType) }
        let result = try verifySigstore(relabelled)
        #expect(result.verdict == .invalid)
        #expect(result.failures.map(\.code) == [.predicateType])
        // SLSA provenance relabelled as the publish attestation has no registry key to verify with.
        let asPublish = try changing(response, at: 0) { $0["predicateType"] = .string(Attestation.publishPredicateType) }
        #expect(try verifySigstore(asPublish).failures.map(\.code) == [.unsigned])
    }

    @Test("only SLSA provenance, subjects matching: present_unverified")
    func presentUnverified() throws {
        let response = try Fixtures.sigstoreAttestations()
        let slsaOnly = AttestationsResponse(
            attestations: response.attestations.filter { $0.predicateType != Attestation.publishPredicateType })
        let result = try verifySigstore(slsaOnly)
        #expect(result.verdict == .presentUnverified)
        #expect(result.checks.map(\.outcome) == [.signatureNotChecked])
        // …and invalid as soon as its subject is wrong.
        #expect(try verifySigstore(slsaOnly, version: "2.0.0").verdict == .invalid)
    }

    @Test("no attestations: missing; a body that is not an attestations response: invalid")
    func missingAndMalformed() throws {
        #expect(try verifySigstore(AttestationsResponse(attestations: [])).verdict == .missing)
        let empty = verifier.verify(
            attestationsBody: Array(#"{"attestations":[]}"#.utf8), packageName: "a", version: "1.0.0",
            integrity: "sha512-x", publishedAt: nil)
        #expect(empty.verdict == .missing)
        for body in [
            "", "not json", "{}", #"{"attestations":{}}"#, #"{"attestations":[{"bundle":{}}]}"#,
            #"{"attestations":[{"predicateType":"p","bundle":{}}]}"#,
            #"{"attestations":[{"predicateType":"p","bundle":{"dsseEnvelope":{"payload":"","payloadType":"t"}}}]}"#,
            #"{"attestations":[{"predicateType":"p","bundle":{"dsseEnvelope":{"payload":"","payloadType":"t","signatures":[{}]}}}]}"#,
        ] {
            let result = verifier.verify(
                attestationsBody: Array(body.utf8), packageName: "sigstore", version: "1.0.0",
                integrity: try sigstoreIntegrity(), publishedAt: nil)
            #expect(result.verdict == .invalid, "\(body)")
            #expect(result.failures.map(\.code) == [.malformedResponse], "\(body)")
            #expect(throws: SignatureFormatError.self) { try AttestationsResponse(parsing: Array(body.utf8)) }
        }
        // The real body, as bytes, verifies.
        let real = verifier.verify(
            attestationsBody: try Fixtures.bytes("attestations-sigstore-1.0.0.json"), packageName: "sigstore",
            version: "1.0.0", integrity: try sigstoreIntegrity(), publishedAt: nil)
        #expect(real.verdict == .verified)
    }

    @Test("attestations, but an integrity without sha512: invalid (integrity)")
    func integrityWithoutSHA512() throws {
        for integrity in ["sha1-iKDM/nLWNF3t5Q3J1hWEAL4kIOs=", "", "sha512-tooShort"] {
            let result = try verifySigstore(try Fixtures.sigstoreAttestations(), integrity: integrity)
            #expect(result.verdict == .invalid)
            #expect(result.failures.map(\.code) == [.integrity])
        }
    }

    @Test("the publish attestation's key must be trusted")
    func unknownAttestationKey() throws {
        let onlyCurrent = ProvenanceVerifier(keys: try TrustedKeys([try #require(TrustedKeys.npmBuiltIn[KeyIDs.current])]))
        let result = try verifySigstore(try Fixtures.sigstoreAttestations(), verifier: onlyCurrent)
        #expect(result.verdict == .invalid)
        #expect(result.failures.map(\.code) == [.unknownKey])
    }

    @Test("the key's expiry is judged at the log entry's integratedTime (pacote), else at the publish time")
    func attestationKeyExpiry() throws {
        let retired = try #require(TrustedKeys.npmBuiltIn[KeyIDs.retired])
        func verifier(keyExpiring expires: Date) throws -> ProvenanceVerifier {
            ProvenanceVerifier(keys: try TrustedKeys([RegistryKey(keyid: retired.keyid, publicKey: retired.publicKey, expires: expires)]))
        }
        let response = try Fixtures.sigstoreAttestations()
        let integrated = Date(timeIntervalSince1970: 1_675_965_362)
        #expect(
            try verifySigstore(response, verifier: try verifier(keyExpiring: integrated.addingTimeInterval(0.001))).verdict == .verified)
        let expired = try verifySigstore(response, verifier: try verifier(keyExpiring: integrated))
        #expect(expired.verdict == .invalid)
        #expect(expired.failures.map(\.code) == [.expiredKey])
        // The publish time does not matter while the bundle has a log entry time.
        #expect(
            try verifySigstore(response, verifier: try verifier(keyExpiring: integrated.addingTimeInterval(1)), publishedAt: .distantFuture)
                .verdict == .verified)

        // Without log entries (the signer's attestations), the publish time decides.
        let signer = RegistrySigner(privateKey: P256.Signing.PrivateKey())
        let signed = try signer.attestationsResponse(packageName: "sigstore", version: "1.0.0", integrity: try sigstoreIntegrity())
        #expect(signed.attestations[0].integratedTime == nil)
        let expires = try time("2025-01-29T00:00:00.000Z")
        let keys = ProvenanceVerifier(keys: try TrustedKeys([signer.registryKey(expires: expires)]))
        #expect(try verifySigstore(signed, verifier: keys, publishedAt: try time("2025-01-28T23:59:59.999Z")).verdict == .verified)
        #expect(try verifySigstore(signed, verifier: keys, publishedAt: expires).failures.map(\.code) == [.expiredKey])
        #expect(try verifySigstore(signed, verifier: keys, publishedAt: nil).verdict == .verified)  // 2015-01-01
    }

    @Test("DSSE pre-authentication encoding: the spec's example, lengths in bytes")
    func preAuthenticationEncoding() {
        let pae = DSSEEnvelope.preAuthenticationEncoding(payloadType: "http://example.com/HelloWorld", payload: Array("hello world".utf8))
        #expect(String(decoding: pae, as: UTF8.self) == "DSSEv1 29 http://example.com/HelloWorld 11 hello world")
        let utf8 = DSSEEnvelope.preAuthenticationEncoding(payloadType: "t", payload: Array("é".utf8))
        #expect(String(decoding: utf8, as: UTF8.self) == "DSSEv1 1 t 2 é")
    }

    @Test("package URLs: a scope's @ is %40")
    func packageURLs() {
        #expect(PackageURL.npm(name: "sigstore", version: "1.0.0") == "pkg:npm/sigstore@1.0.0")
        #expect(PackageURL.npm(name: "@scope/pkg", version: "1.0.0") == "pkg:npm/%40scope/pkg@1.0.0")
        #expect(PackageURL.npm(name: "@sigstore/verify", version: "2.0.0-rc.1") == "pkg:npm/%40sigstore/verify@2.0.0-rc.1")
    }

    @Test("integrity strings: the first sha512 entry, options stripped, 64 bytes")
    func integritySHA512() throws {
        let integrity = try sigstoreIntegrity()
        let hex = try #require(Integrity.sha512Hex(integrity))
        #expect(Integrity.sha512Hex("sha1-iKDM/nLWNF3t5Q3J1hWEAL4kIOs= \(integrity)") == hex)
        #expect(Integrity.sha512Hex("\(integrity)?foo") == hex)
        #expect(Integrity.sha512Hex("sha1-iKDM/nLWNF3t5Q3J1hWEAL4kIOs=") == nil)
        #expect(Integrity.sha512Hex("sha512-AAAA") == nil)
    }

    @Test("verdict raw values are the snake_case labels")
    func rawValues() {
        #expect(ProvenanceVerdict.allCases.map(\.rawValue) == ["verified", "present_unverified", "missing", "invalid"])
    }
}
