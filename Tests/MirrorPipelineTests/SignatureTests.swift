import Foundation
import MirrorConfig
import MirrorJSON
import MirrorPipeline
import MirrorStore
import MirrorTestSupport
import NPMRegistry
import RegistrySimulator
import Testing

/// The consumer's signature and provenance checks against the simulator's signed registry, with one
/// package per fault mode (issue #17).
@Suite("Registry signatures and provenance in the pipeline", .serialized, .timeLimit(.minutes(5)))
struct SignatureTests {
    /// Packages given each fault, drawn from the simulator's ordinary packages.
    struct Faulted {
        var byFault: [SignatureFault: String] = [:]
        /// An ordinary package with no fault.
        var clean: String
        /// A package with attestations and no fault.
        var attested: String?

        func name(_ fault: SignatureFault) -> String { byFault[fault]! }
    }

    /// Gives each fault its own ordinary package; `clean` and `attested` have none.
    static func assignFaults(_ simulator: RegistrySimulator) throws -> Faulted {
        var names = simulator.notablePackages.ordinary
        try #require(names.count >= SignatureFault.allCases.count + 2, "the generated registry has enough ordinary packages")
        var faulted = Faulted(clean: names.removeLast())
        for fault in SignatureFault.allCases {
            let name = names.removeFirst()
            simulator.setSignatureFault(fault, for: name)
            faulted.byFault[fault] = name
        }
        faulted.attested = names.first { simulator.hasAttestations($0) }
        return faulted
    }

    @Test("SIGNATURE_POLICY=record: every kept version's verdict is recorded, nothing is refused, attestations stored and verified")
    func recordPolicy() async throws {
        try await withSimulator(packages: 40) { simulator in
            let faulted = try Self.assignFaults(simulator)
            try await withConsumerHarness(simulator: simulator) { harness in
                try await harness.produceFeed()
                // With grouped durability: tarballs, attestations and packuments through the deferred
                // folder syncs and one round per change.
                try await harness.consumeAll(["STORE_SYNC": "grouped"])
                let records = try await harness.allRecords()

                func verdicts(_ name: String) throws -> Set<String> {
                    let signatures = try #require(records[name]?["signatures"]?.objectValue, "\(name) has signature verdicts")
                    let stored = Set(records[name]?["stored_versions"]?.objectValue?.keys ?? [:].keys)
                    #expect(Set(signatures.keys).isSuperset(of: stored), "every stored version of \(name) has a verdict")
                    return Set(signatures.values.compactMap(\.stringValue))
                }
                #expect(try verdicts(faulted.clean) == ["verified"])
                #expect(try verdicts(faulted.name(.badSignature)) == ["invalid"])
                #expect(try verdicts(faulted.name(.unknownKey)) == ["unknown_key"])
                #expect(try verdicts(faulted.name(.missingSignatures)) == ["missing"])
                #expect(try verdicts(faulted.name(.expiredKey)) == ["expired_key"])
                // Under `record` nothing is refused: every faulted package has its kept tarballs.
                for name in faulted.byFault.values {
                    #expect(records[name]?["skipped_versions"]?.objectValue?.isEmpty == true, "\(name): \(records[name]?["skipped_versions"] ?? .null)")
                    #expect(!(records[name]?["stored_versions"]?.objectValue?.isEmpty ?? true))
                }

                func provenance(_ name: String) throws -> [JSONValue] {
                    Array(try #require(records[name]?["provenance"]?.objectValue, "\(name) has provenance").values)
                }
                let missing = try provenance(faulted.name(.attestationNotFound))
                #expect(missing.allSatisfy { $0["verdict"] == "present_unverified" && $0["attestations_error"] == "registry_not_found" })
                let failing = try provenance(faulted.name(.attestationServerError))
                #expect(failing.allSatisfy { $0["verdict"] == "present_unverified" && $0["attestations_error"] == "registry_server_error" })
                let wrong = try provenance(faulted.name(.wrongSubjectDigest))
                #expect(wrong.allSatisfy { $0["verdict"] == "invalid" && ($0["failure"]?.stringValue ?? "").hasPrefix("subject_digest") }, "\(wrong)")
                #expect(records[faulted.clean]?["provenance"] == nil || simulator.hasAttestations(faulted.clean))

                let attested = try #require(faulted.attested, "some ordinary package has attestations")
                let good = try provenance(attested)
                #expect(!good.isEmpty && good.allSatisfy { $0["verdict"] == "verified" })
                // The response is stored byte for byte and reads back as the registry's.
                let version = try #require(records[attested]?["provenance"]?.objectValue?.keys.first)
                let stored = try #require(try harness.store.readAttestations(name: attested, version: version))
                #expect((try JSONValue(parsing: stored))["attestations"]?.arrayValue?.isEmpty == false)
                #expect(try harness.store.storedAttestationVersions(name: attested).contains(version))

                #expect(harness.metric("npm_mirror_consumer_signatures_total", labels: #"verdict="invalid""#) ?? 0 >= 1)
                #expect(harness.metric("npm_mirror_consumer_signatures_total", labels: #"verdict="verified""#) ?? 0 >= 10)
                #expect(harness.metric("npm_mirror_consumer_provenance_total", labels: #"verdict="invalid""#) ?? 0 >= 1)
                #expect(harness.metric("npm_mirror_consumer_unknown_registry_keys") == 0, "the simulator's keys are the ones configured")
                #expect(try await harness.sideTopic("npm-changes-skipped").isEmpty)
                #expect(try await harness.committedToEnd())
            }
        }
    }

    @Test("FETCH_TARBALLS=false: the verdicts are those of the versions the retention rule keeps, not of every version")
    func metadataOnlyVerdicts() async throws {
        try await withSimulator(packages: 40) { simulator in
            try await withConsumerHarness(simulator: simulator) { harness in
                try await harness.produceFeed()
                try await harness.consumeAll(["FETCH_TARBALLS": "false"])
                let records = try await harness.allRecords()
                let limit = Int(Setting.oldPackageVersionsLimit.defaultValue!)!
                var checked = 0
                var trimmed = 0
                for (name, record) in records {
                    guard let signatures = record["signatures"]?.objectValue,
                        let json = try harness.store.readPackument(name: name)
                    else { continue }
                    let packument = try Packument.parse(json, expectedName: name)
                    guard !packument.isUnpublished else { continue }
                    let kept = VersionRetention.versionsToKeep(versions: packument.versions.keys, time: packument.time, latest: packument.latest, limit: limit)
                    #expect(Set(signatures.keys) == kept, "\(name): verdicts for \(signatures.keys.sorted()), kept \(kept.sorted())")
                    #expect(record["stored_versions"]?.objectValue?.isEmpty ?? true, "\(name): no tarball in a metadata-only mirror")
                    checked += 1
                    if kept.count < packument.versions.count { trimmed += 1 }
                }
                #expect(checked >= 20, "most packages have verdicts (\(checked))")
                #expect(trimmed >= 1, "some package has more versions than the rule keeps, so the test can tell the difference")
            }
        }
    }

    @Test("SIGNATURE_POLICY=require: versions not verified are not stored and the change is dead-lettered; everything else is stored")
    func requirePolicy() async throws {
        try await withSimulator(packages: 40) { simulator in
            let faulted = try Self.assignFaults(simulator)
            try await withConsumerHarness(simulator: simulator) { harness in
                try await harness.produceFeed()
                try await harness.consumeAll(["SIGNATURE_POLICY": "require"])
                let records = try await harness.allRecords()
                let letters = try await harness.sideTopic("npm-changes-skipped")

                let refused: [(SignatureFault, String)] = [
                    (.badSignature, "signature_invalid"), (.unknownKey, "signature_unknown_key"),
                    (.missingSignatures, "signature_missing"), (.expiredKey, "signature_expired_key"),
                ]
                for (fault, reason) in refused {
                    let name = faulted.name(fault)
                    #expect(records[name]?["stored_versions"]?.objectValue?.isEmpty == true, "\(name) (\(fault)) stores nothing")
                    #expect(try harness.store.storedVersions(name: name).isEmpty)
                    let skipped = records[name]?["skipped_versions"]?.objectValue ?? [:]
                    #expect(!skipped.isEmpty && skipped.values.allSatisfy { $0.stringValue == reason }, "\(name): \(skipped)")
                    #expect(letters.contains { $0["id"] as? String == name && $0["reason"] as? String == "signature_invalid" }, "\(name) is dead-lettered")
                }
                // Provenance never refuses a version; the clean package is whole.
                for name in [faulted.clean, faulted.name(.attestationNotFound), faulted.name(.attestationServerError), faulted.name(.wrongSubjectDigest)] {
                    #expect(records[name]?["skipped_versions"]?.objectValue?.isEmpty == true, "\(name)")
                    #expect(!(try harness.store.storedVersions(name: name).isEmpty), "\(name) is stored")
                    #expect(!letters.contains { $0["id"] as? String == name })
                }
                #expect(letters.count == refused.count, "only the refused packages are dead-lettered: \(letters.map { $0["id"] ?? "" })")
                #expect(try await harness.committedToEnd())
            }
        }
    }

    @Test("the registry's keys: unknown ones are logged and counted, trusted only with NPM_TRUST_REGISTRY_KEYS")
    func registryKeys() async throws {
        try await withSimulator(packages: 12) { simulator in
            try await withConsumerHarness(simulator: simulator) { harness in
                try await harness.produceFeed()
                // npm's built-in keys: the simulator's two keys are unknown, its versions unknown_key.
                let builtIn = try harness.configuration().consumer.signatures
                #expect(builtIn.keysFile != nil)
                try await harness.consumeAll(["NPM_SIGNING_KEYS": ""])
                #expect(harness.metric("npm_mirror_consumer_unknown_registry_keys") == 2)
                var records = try await harness.allRecords()
                let name = try #require(simulator.notablePackages.ordinary.first)
                #expect(Set(records[name]?["signatures"]?.objectValue?.values.compactMap(\.stringValue) ?? []) == ["unknown_key"])

                // Trusting the registry's keys: the next change of the package verifies.
                _ = try simulator.publish(.newVersion(of: name))
                try await harness.produceFeed()
                try await harness.consumeAll(["NPM_SIGNING_KEYS": "", "NPM_TRUST_REGISTRY_KEYS": "true"])
                records = try await harness.allRecords()
                #expect(Set(records[name]?["signatures"]?.objectValue?.values.compactMap(\.stringValue) ?? []) == ["verified"])
            }
        }
    }

    @Test("a keys file that is not one is a configuration error naming NPM_SIGNING_KEYS")
    func badKeysFile() async throws {
        try await withSimulator(packages: 2) { simulator in
            try await withConsumerHarness(simulator: simulator) { harness in
                let file = try temporaryDirectory() + "/keys.json"
                try Data(#"{"keys": [{"keyid": "x", "key": "not base64"}]}"#.utf8).write(to: URL(fileURLWithPath: file))
                let error = #expect(throws: (any Error).self) { try harness.application(["NPM_SIGNING_KEYS": file]) }
                #expect("\(error.map { "\($0)" } ?? "")".contains("NPM_SIGNING_KEYS"))
                #expect(throws: (any Error).self) { try harness.application(["NPM_SIGNING_KEYS": file + ".missing"]) }
            }
        }
    }
}
