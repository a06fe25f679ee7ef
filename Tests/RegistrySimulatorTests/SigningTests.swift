import Foundation
import MirrorJSON
import MirrorSignatures
import RegistrySimulator
import Testing

/// The simulator signs like registry.npmjs.org: every version carries `dist.signatures` by a key
/// that `/-/npm/v1/keys` lists, some versions have attestations, and the fault modes break exactly
/// what they name.
@Suite("Registry simulator: signatures, keys and attestations")
struct SigningTests {
    /// The served packument of `name`, its `versions` and `time`.
    static func packument(_ simulator: RegistrySimulator, _ name: String) async throws -> JSONValue {
        let path = name.replacingOccurrences(of: "/", with: "%2F")
        let fetched = try await HTTP.get("\(simulator.registryURL)/\(path)", accept: "application/json")
        #expect(fetched.status == 200)
        return try JSONValue(parsing: fetched.bytes)
    }

    /// Every version's `dist.signatures`.
    static func signatures(_ simulator: RegistrySimulator, _ name: String) async throws -> [String: JSONValue] {
        (try await packument(simulator, name)["versions"]?.objectValue ?? [:]).compactMapValues { $0["dist"]?["signatures"] }
    }

    /// Every version's verdict with the served keys.
    static func verdicts(_ simulator: RegistrySimulator, _ name: String) async throws -> [String: SignatureVerdict] {
        let keys = try await HTTP.get("\(simulator.registryURL)/-/npm/v1/keys")
        let verifier = SignatureVerifier(keys: try TrustedKeys(keysDocument: keys.bytes))
        let document = try await packument(simulator, name)
        var verdicts: [String: SignatureVerdict] = [:]
        for (version, entry) in document["versions"]?.objectValue ?? [:] {
            verdicts[version] = verifier.verify(packageName: name, version: version, dist: entry["dist"] ?? .null, time: document["time"]?[version]?.stringValue)
        }
        return verdicts
    }

    @Test("every version verifies with the served keys, and the same seed renders the same signature bytes")
    func signedAndDeterministic() async throws {
        let first = try await withSimulator(packages: 12) { simulator in
            let keys = try await HTTP.get("\(simulator.registryURL)/-/npm/v1/keys")
            let trusted = try TrustedKeys(keysDocument: keys.bytes)
            #expect(trusted.keys.count == 2)
            #expect(trusted.keys.contains { $0.expires != nil } && trusted.keys.contains { $0.expires == nil })
            #expect(keys.bytes == simulator.signingKeysDocument)
            for name in simulator.notablePackages.ordinary.prefix(4) + simulator.notablePackages.scoped.prefix(1) {
                let verdicts = try await Self.verdicts(simulator, name)
                #expect(!verdicts.isEmpty && verdicts.values.allSatisfy { $0 == .verified }, "\(name): \(verdicts)")
            }
            let name = try #require(simulator.notablePackages.ordinary.first)
            return try await Self.signatures(simulator, name)
        }
        let second = try await withSimulator(packages: 12) { simulator in
            try await Self.signatures(simulator, try #require(simulator.notablePackages.ordinary.first))
        }
        #expect(!first.isEmpty && first == second, "signatures are deterministic")
    }

    @Test("signature faults: bad signature, unknown key, missing, expired key")
    func signatureFaults() async throws {
        try await withSimulator(packages: 30) { simulator in
            let names = simulator.notablePackages.ordinary
            try #require(names.count >= 4)
            let expected: [(SignatureFault, SignatureVerdict)] = [(.badSignature, .invalid), (.unknownKey, .unknownKey), (.missingSignatures, .missing), (.expiredKey, .expiredKey)]
            for (index, (fault, _)) in expected.enumerated() { simulator.setSignatureFault(fault, for: names[index]) }
            for (index, (fault, verdict)) in expected.enumerated() {
                let verdicts = try await Self.verdicts(simulator, names[index])
                #expect(!verdicts.isEmpty && verdicts.values.allSatisfy { $0 == verdict }, "\(fault): \(verdicts)")
            }
            simulator.setSignatureFault(nil, for: names[0])
            #expect(try await Self.verdicts(simulator, names[0]).values.allSatisfy { $0 == .verified }, "a cleared fault signs right again")
        }
    }

    @Test("attestations: dist.attestations points at the endpoint, whose publish attestation verifies; 404, 500 and a wrong subject on demand")
    func attestations() async throws {
        try await withSimulator(packages: 40) { simulator in
            let keys = try TrustedKeys(keysDocument: simulator.signingKeysDocument)
            var plain = simulator.notablePackages.ordinary.filter { !simulator.hasAttestations($0) }
            let attested = try #require(simulator.notablePackages.ordinary.first { simulator.hasAttestations($0) })
            let document = try await Self.packument(simulator, attested)
            let (version, entry) = try #require(document["versions"]?.objectValue?.first)
            let url = try #require(entry["dist"]?["attestations"]?["url"]?.stringValue)
            #expect(url == "\(simulator.registryURL)/-/npm/v1/attestations/\(attested)@\(version)")
            #expect(entry["dist"]?["attestations"]?["provenance"]?["predicateType"] != nil)
            let response = try await HTTP.get(url)
            #expect(response.status == 200)
            let integrity = try #require(entry["dist"]?["integrity"]?.stringValue)
            let result = ProvenanceVerifier(keys: keys).verify(attestationsBody: response.bytes, packageName: attested, version: version, integrity: integrity, publishedAt: nil)
            #expect(result.verdict == .verified, "\(result)")

            // A package without attestations has no field and no response.
            let without = plain.removeFirst()
            let withoutDocument = try await Self.packument(simulator, without)
            let withoutVersion = try #require(withoutDocument["versions"]?.objectValue?.first)
            #expect(withoutVersion.value["dist"]?["attestations"] == nil)
            #expect(try await HTTP.get("\(simulator.registryURL)/-/npm/v1/attestations/\(without)@\(withoutVersion.key)").status == 404)

            let faults: [(SignatureFault, Int)] = [(.attestationNotFound, 404), (.attestationServerError, 500), (.wrongSubjectDigest, 200)]
            for (fault, status) in faults {
                let name = plain.removeFirst()
                simulator.setSignatureFault(fault, for: name)
                let faulted = try await Self.packument(simulator, name)
                let (faultedVersion, faultedEntry) = try #require(faulted["versions"]?.objectValue?.first)
                #expect(faultedEntry["dist"]?["attestations"]?["url"] != nil, "\(fault): the field is there")
                let answer = try await HTTP.get("\(simulator.registryURL)/-/npm/v1/attestations/\(name)@\(faultedVersion)")
                #expect(answer.status == status, "\(fault)")
                if fault == .wrongSubjectDigest {
                    let integrity = try #require(faultedEntry["dist"]?["integrity"]?.stringValue)
                    let wrong = ProvenanceVerifier(keys: keys).verify(attestationsBody: answer.bytes, packageName: name, version: faultedVersion, integrity: integrity, publishedAt: nil)
                    #expect(wrong.verdict == .invalid && wrong.failure?.code == .subjectDigest, "\(wrong)")
                }
            }
        }
    }
}
