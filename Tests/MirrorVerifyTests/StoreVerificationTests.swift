import Foundation
import MirrorConfig
import MirrorJSON
import MirrorSignatures
import MirrorStore
import MirrorTestSupport
import MirrorVerify
import Testing

@Suite("Store verification")
struct StoreVerificationTests {
    @Test("an intact store holds: every tarball hashed, every kept version verified, every attestation verified")
    func intactStoreHolds() async throws {
        let test = try await VerifyTestStore.standard()
        let report = try await test.verify()
        #expect(report.failures.isEmpty, "\(report.failures)")
        #expect(report.holds)
        #expect(report.packages == 2)
        #expect(report.tarballs == 3)
        #expect(report.bytesHashed == 4_000 + 4_000 + 300_000)
        // 2.0.0 of left-pad is not kept (no tarball): its signature is not counted.
        #expect(report.signatures[.verified] == 3)
        #expect(report.signatures.filter { $0.key != .verified }.values.allSatisfy { $0 == 0 })
        #expect(report.attestations[.verified] == 2)
        #expect(report.records == 2 && report.recordPaths == 3)
        #expect(report.recordsLocation == test.recordsPath)
        #expect(try await test.verify(records: false).recordsLocation == nil)
        #expect(report.json["holds"] == .bool(true))
        #expect(report.summaryLines().last == "result          everything holds")
    }

    @Test("one flipped byte of a stored tarball is named: integrity_mismatch with package, version and path")
    func flippedByte() async throws {
        let test = try await VerifyTestStore.standard()
        let path = try test.absoluteTarballPath("@scope/pkg", "3.0.0-RC.1")
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[123_456] ^= 0x01
        try Data(bytes).write(to: URL(fileURLWithPath: path))

        let report = try await test.verify()
        let failure = try #require(report.failures.first)
        #expect(report.failures.count == 1, "\(report.failures)")
        #expect(failure.kind == .integrityMismatch)
        #expect(failure.package == "@scope/pkg" && failure.version == "3.0.0-RC.1")
        #expect(failure.path == (try test.store.tarballPath(name: "@scope/pkg", version: "3.0.0-RC.1")))
        #expect(failure.message.contains("integrity mismatch"))
        #expect(!report.holds)
    }

    @Test("a tarball a record lists, deleted: record_missing_file, and nothing else")
    func deletedTarballInRecord() async throws {
        let test = try await VerifyTestStore.standard()
        // 1.1.0 has no attestations, so deleting its tarball leaves nothing unexplained.
        try FileManager.default.removeItem(atPath: try test.absoluteTarballPath("left-pad", "1.1.0"))

        let report = try await test.verify()
        #expect(report.failures.map(\.kind) == [.recordMissingFile], "\(report.failures)")
        let failure = try #require(report.failures.first)
        #expect(failure.package == "left-pad" && failure.version == "1.1.0")
        #expect(failure.path == (try test.store.tarballPath(name: "left-pad", version: "1.1.0")))
        #expect(report.tarballs == 2)
        // Without records, the deletion is not a failure: the version is simply not kept any more.
        #expect(try await test.verify(records: false).holds)
    }

    @Test("a stored packument whose integrity for a kept version changed: the tarball no longer matches")
    func changedPackumentIntegrity() async throws {
        let test = try await VerifyTestStore.standard()
        let wrong = "sha512-" + Data(repeating: 7, count: 64).base64EncodedString()
        try test.store.storePackument(
            name: "left-pad", rev: "2-b", json: try test.packument("left-pad", VerifyTestStore.leftPad, integrityOverride: ["1.1.0": wrong]))

        let report = try await test.verify()
        let failure = try #require(report.failures(.integrityMismatch).first)
        #expect(report.failures(.integrityMismatch).count == 1)
        #expect(failure.package == "left-pad" && failure.version == "1.1.0")
        #expect(failure.message.contains(wrong))
        // The signature was made over the old integrity: it no longer verifies either.
        #expect(report.failures(.signatureInvalid).map(\.version) == ["1.1.0"])
        #expect(report.failures.count == 2, "\(report.failures)")
    }

    @Test("a stored attestations response with a wrong subject digest: provenance_invalid naming subject_digest")
    func wrongSubjectDigest() async throws {
        let test = try await VerifyTestStore.standard()
        let other = "sha512-" + Data(repeating: 9, count: 64).base64EncodedString()
        let response = try test.signer.attestationsResponse(packageName: "left-pad", version: "1.0.0", integrity: other)
        try test.store.storeAttestations(name: "left-pad", version: "1.0.0", json: response.json.serializedBytes)

        let report = try await test.verify()
        #expect(report.failures.map(\.kind) == [.provenanceInvalid], "\(report.failures)")
        let failure = try #require(report.failures.first)
        #expect(failure.package == "left-pad" && failure.version == "1.0.0")
        #expect(failure.path == (try test.store.attestationsPath(name: "left-pad", version: "1.0.0")))
        #expect(failure.message.contains("subject_digest"))
        #expect(report.attestations[.invalid] == 1 && report.attestations[.verified] == 1)
    }

    @Test("gibberish attestations: provenance_invalid (malformed_response); a file that does not gunzip: corrupt_attestations")
    func gibberishAttestations() async throws {
        let test = try await VerifyTestStore.standard()
        try test.store.storeAttestations(name: "left-pad", version: "1.0.0", json: Array("not json at all".utf8))
        let scopedPath = try test.store.attestationsPath(name: "@scope/pkg", version: "3.0.0-RC.1")
        try test.writeFile(scopedPath, Array("plain bytes, no gzip".utf8))

        let report = try await test.verify()
        #expect(report.failures.map(\.kind).sorted() == [.corruptAttestations, .provenanceInvalid], "\(report.failures)")
        #expect(report.failures(.provenanceInvalid).first?.message.contains("malformed_response") == true)
        #expect(report.failures(.corruptAttestations).first?.path == scopedPath)
    }

    @Test("files nothing explains are named: a stray file, a foreign tarball, a temporary file, attestations of an unkept version")
    func unexplainedFiles() async throws {
        let test = try await VerifyTestStore.standard()
        let folder = test.store.packageDirectory(for: "left-pad")
        try test.writeFile(folder + "/notes.txt", Array("hello".utf8))
        try test.writeFile(folder + "/left-pad-9.9.9.tgz", tarballBytes("stray"))
        try test.writeFile(folder + "/.tmp-0123456789abcdef", [1, 2, 3])
        try test.writeFile(folder + "/revisions/something-else.txt", [1])
        try test.writeFile("stray-at-root", [1])
        // 2.0.0 is in the packument but its tarball is not stored.
        let response = try test.signer.attestationsResponse(
            packageName: "left-pad", version: "2.0.0", integrity: VerifyTestStore.leftPad[2].integrity)
        try test.store.storeAttestations(name: "left-pad", version: "2.0.0", json: response.json.serializedBytes)

        let report = try await test.verify()
        let byPath = Dictionary(report.failures.map { ($0.path, $0.kind) }, uniquingKeysWith: { a, _ in a })
        #expect(byPath[folder + "/notes.txt"] == .unexplainedFile)
        #expect(byPath[folder + "/left-pad-9.9.9.tgz"] == .unexplainedTarball)
        #expect(byPath[folder + "/.tmp-0123456789abcdef"] == .temporaryFile)
        #expect(byPath[folder + "/revisions/something-else.txt"] == .unexplainedFile)
        #expect(byPath["stray-at-root"] == .unexplainedFile)
        #expect(byPath[try test.store.attestationsPath(name: "left-pad", version: "2.0.0")] == .unexplainedAttestations)
        #expect(report.failures.count == 6, "\(report.failures)")
        #expect(report.failures(.unexplainedTarball).first?.version == "9.9.9")
    }

    @Test("signatures other than verified are named with their verdict: forged, another key, none")
    func badSignatures() async throws {
        let test = try VerifyTestStore()
        try await test.add("sig-test", [
            TestVersion(version: "1.0.0", tarball: tarballBytes("a")),
            TestVersion(version: "1.0.1", tarball: tarballBytes("b"), signing: .forged, attestations: false),
            TestVersion(version: "1.0.2", tarball: tarballBytes("c"), signing: .otherKey, attestations: false),
            TestVersion(version: "1.0.3", tarball: tarballBytes("d"), signing: .unsigned, attestations: false),
        ])
        let report = try await test.verify()
        let kinds = Dictionary(report.failures.map { ($0.version ?? "", $0.kind) }, uniquingKeysWith: { a, _ in a })
        #expect(kinds == ["1.0.1": .signatureInvalid, "1.0.2": .signatureUnknownKey, "1.0.3": .signatureMissing], "\(report.failures)")
        #expect(report.signatures == [.verified: 1, .invalid: 1, .unknownKey: 1, .missing: 1, .expiredKey: 0])
        #expect(report.failures.allSatisfy { $0.path == test.store.packageDirectory(for: "sig-test") + "/packument.json.gz" })
        // With npm's built-in keys, none of them is trusted.
        let builtIn = try await StoreVerification(store: test.store, keys: .npmBuiltIn, concurrency: 1).run()
        #expect(builtIn.signatures[.unknownKey] == 3 && builtIn.signatures[.missing] == 1)
    }

    @Test("FETCH_TARBALLS=false: every packument version is kept, so its signature is checked and its attestations are explained")
    func metadataOnly() async throws {
        let test = try VerifyTestStore()
        let versions = [
            TestVersion(version: "1.0.0", tarball: tarballBytes("a"), stored: false),
            TestVersion(version: "2.0.0", tarball: tarballBytes("b"), signing: .forged, stored: false),
        ]
        try await test.add("meta", versions)
        let response = try test.signer.attestationsResponse(packageName: "meta", version: "1.0.0", integrity: versions[0].integrity)
        try test.store.storeAttestations(name: "meta", version: "1.0.0", json: response.json.serializedBytes)

        let report = try await test.verify(fetchTarballs: false)
        #expect(report.failures.map(\.kind) == [.signatureInvalid], "\(report.failures)")
        #expect(report.failures.first?.version == "2.0.0")
        #expect(report.attestations[.verified] == 1)
        #expect(report.tarballs == 0)
        // With tarballs fetched, the same attestations file is unexplained (no tarball is kept).
        let fetching = try await test.verify(fetchTarballs: true)
        #expect(fetching.failures.map(\.kind) == [.unexplainedAttestations], "\(fetching.failures)")
    }

    @Test("a package folder without a packument, and a corrupt packument, are named; their tarballs are unexplained")
    func missingAndCorruptPackuments() async throws {
        let test = try await VerifyTestStore.standard()
        let folder = test.store.packageDirectory(for: "left-pad")
        try FileManager.default.removeItem(atPath: test.root + "/" + folder + "/packument.json.gz")
        try test.writeFile(test.store.packageDirectory(for: "@scope/pkg") + "/packument.json.gz", Array("not gzip".utf8))

        let report = try await test.verify(records: false)
        let kinds = report.failures.reduce(into: [VerificationFailure.Kind: Int]()) { $0[$1.kind, default: 0] += 1 }
        #expect(kinds[.missingPackument] == 1)
        #expect(kinds[.corruptPackument] == 1)
        #expect(kinds[.unexplainedTarball] == 3)
        #expect(kinds[.unexplainedAttestations] == 2)
        #expect(report.tarballs == 0)
    }

    @Test("a package folder in another name's shard is misplaced")
    func misplacedPackage() async throws {
        let test = try await VerifyTestStore.standard()
        let right = test.store.packageDirectory(for: "left-pad")
        let shard = right.split(separator: "/").first!
        let wrongShard = shard == "00" ? "01" : "00"
        try FileManager.default.createDirectory(atPath: test.root + "/" + wrongShard, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: test.root + "/" + right, toPath: test.root + "/\(wrongShard)/left-pad")
        let report = try await test.verify()
        #expect(report.failures.map(\.kind) == [.misplacedPackage], "\(report.failures)")
        #expect(report.failures.first?.path == "\(wrongShard)/left-pad")
    }

    @Test("the JSON report carries counts, verdicts and each failure's kind, package, version, path and message")
    func jsonReport() async throws {
        let test = try await VerifyTestStore.standard()
        try test.writeFile(test.store.packageDirectory(for: "left-pad") + "/extra", [0])
        let report = try await test.verify()
        let json = try JSONValue(parsing: report.json.serializedBytes)
        #expect(json["holds"] == .bool(false))
        #expect(json["packages"]?.intValue == 2)
        #expect(json["tarballs"]?.intValue == 3)
        #expect(json["bytes_hashed"]?.intValue == 308_000)
        #expect(json["signatures"]?["verified"]?.intValue == 3)
        #expect(json["signatures"]?["missing"]?.intValue == 0)
        #expect(json["attestations"]?["verified"]?.intValue == 2)
        #expect(json["records"]?["paths_checked"]?.intValue == 3)
        #expect(json["failures_by_kind"]?["unexplained_file"]?.intValue == 1)
        let failure = try #require(json["failures"]?.arrayValue?.first)
        #expect(failure["kind"] == "unexplained_file")
        #expect(failure["package"] == "left-pad")
        #expect(failure["version"] == .null)
        #expect(failure["path"]?.stringValue == test.store.packageDirectory(for: "left-pad") + "/extra")
        #expect(json["megabytes_per_second"]?.numberValue != nil)
        #expect(json["elapsed_seconds"]?.numberValue != nil)
    }

    @Test("the configuration builder: no store folder, a bad keys file, and records only when the SQLite file exists")
    func configurationBuilder() async throws {
        let test = try await VerifyTestStore.standard()
        struct Built {
            let configuration: MirrorConfiguration
            func verification() throws -> StoreVerification { try StoreVerification(configuration: configuration, logger: testLogger) }
        }
        func configuration(_ environment: [String: String]) throws -> Built {
            Built(configuration: try MirrorConfiguration.load(sources: ConfigurationSources(environment: environment)))
        }
        var environment = [
            "REMOTE_PACKAGE_DIR": test.root, "LOCAL_PACKAGE_DIR": test.directory + "/scratch",
            "SUBDIRECTORY_HASH_LENGTH": "2", "DBDATA_DIR": test.dbdata, "NPM_SIGNING_KEYS": test.keysFile,
            "CONFIG_FILE": test.directory + "/config.json",
        ]
        try Data("{}".utf8).write(to: URL(fileURLWithPath: test.directory + "/config.json"))
        let verification = try configuration(environment).verification()
        #expect(verification.recordsLocation == test.recordsPath)
        #expect(try await verification.run().holds)

        environment["DBDATA_DIR"] = test.directory + "/no-database-here"
        #expect(try configuration(environment).verification().records == nil)

        environment["REMOTE_PACKAGE_DIR"] = test.directory + "/nothing"
        #expect(throws: VerifyError.self) { try configuration(environment).verification() }
        environment["REMOTE_PACKAGE_DIR"] = test.root

        try Data("{\"keys\": 3}".utf8).write(to: URL(fileURLWithPath: test.directory + "/bad-keys.json"))
        environment["NPM_SIGNING_KEYS"] = test.directory + "/bad-keys.json"
        let error = try #require(throws: VerifyError.self) { try configuration(environment).verification() }
        #expect(error.code == .keys)
        #expect(error.message.contains("bad-keys.json") && error.message.contains("keys"))
        environment["NPM_SIGNING_KEYS"] = test.directory + "/absent-keys.json"
        let absent = try #require(throws: VerifyError.self) { try configuration(environment).verification() }
        #expect(absent.message.contains("absent-keys.json"))
    }

    @Test("many packages over several jobs give the same report as one job")
    func concurrencyDoesNotChangeTheReport() async throws {
        let test = try VerifyTestStore()
        for index in 0..<24 {
            try await test.add("pkg-\(index)", [TestVersion(version: "1.0.\(index)", tarball: tarballBytes("pkg \(index)", size: 10_000 + index))])
        }
        let flipped = try test.absoluteTarballPath("pkg-7", "1.0.7")
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: flipped)))
        bytes[0] ^= 0xFF
        try Data(bytes).write(to: URL(fileURLWithPath: flipped))
        let serial = try await StoreVerification(store: test.store, keys: test.signer.trustedKeys, concurrency: 1).run()
        let parallel = try await StoreVerification(store: test.store, keys: test.signer.trustedKeys, concurrency: 4).run()
        #expect(serial.failures == parallel.failures)
        #expect(serial.failures.map(\.package) == ["pkg-7"])
        #expect(serial.bytesHashed == parallel.bytesHashed && serial.tarballs == 24 && parallel.tarballs == 24)
        #expect(parallel.concurrency == 4)
    }
}
