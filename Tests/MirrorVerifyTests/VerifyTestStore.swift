import Crypto
import Foundation
import MirrorJSON
import MirrorRecords
import MirrorSignatures
import MirrorStore
import MirrorTestSupport
import MirrorVerify
import Testing

/// One version of a hand-made package: its tarball bytes and how its `dist` is signed.
struct TestVersion {
    enum Signing {
        /// Signed by the store's registry key.
        case signed
        /// Signed by another key, unknown to the trusted keys.
        case otherKey
        /// A signature by the store's key over another message.
        case forged
        /// No `dist.signatures`.
        case unsigned
    }

    var version: String
    var tarball: [UInt8]
    var signing: Signing = .signed
    /// Whether the tarball is stored (false: a version the mirror does not keep).
    var stored = true
    /// Whether its attestations response is stored.
    var attestations = true

    var integrity: String { "sha512-" + Data(SHA512.hash(data: tarball)).base64EncodedString() }
    var shasum: String { Insecure.SHA1.hash(data: tarball).map { String(format: "%02x", $0) }.joined() }
}

/// A store built by hand in a temporary folder: packuments through `storePackument`, tarball files
/// put where the store keeps them (as the serve tests' `TestStore` does), attestations through
/// `storeAttestations`, a registry key of its own written to a keys file, and an SQLite record
/// database with a package record per package.
struct VerifyTestStore {
    let directory: String
    let store: PackageStore
    let signer = RegistrySigner(privateKey: P256.Signing.PrivateKey())
    let other = RegistrySigner(privateKey: P256.Signing.PrivateKey())
    /// The keys file trusting ``signer``'s key alone (`NPM_SIGNING_KEYS`).
    let keysFile: String
    /// The embedded record database's folder (`DBDATA_DIR`; the file is `npm-mirror.sqlite`).
    let dbdata: String
    static let databaseName = "npm-mirror"

    init(shardLength: Int = 2) throws {
        directory = try temporaryDirectory(prefix: "npm-mirror-verify")
        store = try PackageStore(root: directory + "/packages", scratch: directory + "/scratch", shardLength: shardLength)
        keysFile = directory + "/keys.json"
        try Data(signer.trustedKeys.keysDocumentBytes).write(to: URL(fileURLWithPath: keysFile))
        dbdata = directory + "/dbdata"
        try FileManager.default.createDirectory(atPath: dbdata, withIntermediateDirectories: true)
    }

    var root: String { store.root }
    var recordsPath: String { dbdata + "/\(Self.databaseName).sqlite" }

    func records() throws -> SQLiteRecordStore { try SQLiteRecordStore(path: recordsPath) }

    /// The verification of this store with its keys and records.
    func verification(fetchTarballs: Bool = true, records: Bool = true) throws -> StoreVerification {
        StoreVerification(
            store: store, keys: signer.trustedKeys, fetchTarballs: fetchTarballs,
            records: records ? try self.records() : nil, recordsLocation: recordsPath, concurrency: 2)
    }

    func verify(fetchTarballs: Bool = true, records: Bool = true) async throws -> VerificationReport {
        try await verification(fetchTarballs: fetchTarballs, records: records).run()
    }

    /// The packument of `name` with `versions`, each signed as it says, with a `time` entry each.
    func packument(_ name: String, rev: String = "1-a", _ versions: [TestVersion], integrityOverride: [String: String] = [:]) throws -> [UInt8] {
        var entries: [String: JSONValue] = [:]
        var time: [String: JSONValue] = ["created": "2024-01-01T00:00:00.000Z", "modified": "2024-06-01T00:00:00.000Z"]
        for (index, version) in versions.enumerated() {
            let integrity = integrityOverride[version.version] ?? version.integrity
            var dist: [String: JSONValue] = [
                "integrity": .string(integrity), "shasum": .string(version.shasum),
                "tarball": .string("https://registry.npmjs.org/\(name)/-/\(name)-\(version.version).tgz"),
            ]
            switch version.signing {
            case .signed:
                dist["signatures"] = [try signer.distSignature(packageName: name, version: version.version, integrity: version.integrity).json]
            case .otherKey:
                dist["signatures"] = [try other.distSignature(packageName: name, version: version.version, integrity: version.integrity).json]
            case .forged:
                dist["signatures"] = [try signer.distSignature(packageName: name, version: version.version + "-other", integrity: version.integrity).json]
            case .unsigned:
                break
            }
            entries[version.version] = ["name": .string(name), "version": .string(version.version), "dist": .object(dist)]
            time[version.version] = .string("2024-0\(1 + index % 9)-02T00:00:00.000Z")
        }
        let document: JSONValue = [
            "_id": .string(name), "_rev": .string(rev), "name": .string(name),
            "dist-tags": ["latest": .string(versions.last?.version ?? "")],
            "versions": .object(entries), "time": .object(time),
        ]
        return document.serializedBytes
    }

    /// Stores the package: packument, the stored versions' tarballs and attestations, and a package
    /// record listing the stored tarballs.
    func add(_ name: String, _ versions: [TestVersion]) async throws {
        try store.storePackument(name: name, rev: "1-a", json: try packument(name, versions))
        var storedVersions: [String: JSONValue] = [:]
        for version in versions where version.stored {
            try writeTarball(name, version.version, version.tarball)
            let path = try store.tarballPath(name: name, version: version.version)
            storedVersions[version.version] = [
                "integrity": .string(version.integrity), "bytes": .number(Double(version.tarball.count)), "path": .string(path),
            ]
            if version.attestations {
                let response = try signer.attestationsResponse(packageName: name, version: version.version, integrity: version.integrity)
                try store.storeAttestations(name: name, version: version.version, json: response.json.serializedBytes)
            }
        }
        let records = try self.records()
        try await records.prepare()
        let results = try await records.write([
            RecordDocument(
                id: name,
                body: ["type": "package", "name": .string(name), "deleted": false, "unpublished": false, "stored_versions": .object(storedVersions)])
        ])
        #expect(results.allSatisfy { $0.isSuccess })
    }

    /// Puts bytes where the store keeps the version's tarball.
    func writeTarball(_ name: String, _ version: String, _ bytes: [UInt8]) throws {
        try FileManager.default.createDirectory(atPath: store.absolutePackageDirectory(for: name), withIntermediateDirectories: true)
        try Data(bytes).write(to: URL(fileURLWithPath: absoluteTarballPath(name, version)))
    }

    func absoluteTarballPath(_ name: String, _ version: String) throws -> String {
        root + "/" + (try store.tarballPath(name: name, version: version))
    }

    /// Writes a file under the root (creating folders), relative path.
    func writeFile(_ relative: String, _ bytes: [UInt8]) throws {
        let url = URL(fileURLWithPath: root + "/" + relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(bytes).write(to: url)
    }

    /// The standard content: an unscoped package with two stored versions (one not kept) and a scoped one.
    static let leftPad = [
        TestVersion(version: "1.0.0", tarball: tarballBytes("left-pad 1.0.0")),
        TestVersion(version: "1.1.0", tarball: tarballBytes("left-pad 1.1.0"), attestations: false),
        TestVersion(version: "2.0.0", tarball: tarballBytes("left-pad 2.0.0"), stored: false, attestations: false),
    ]
    static let scoped = [TestVersion(version: "3.0.0-RC.1", tarball: tarballBytes("@scope/pkg 3.0.0-RC.1", size: 300_000))]

    static func standard() async throws -> VerifyTestStore {
        let store = try VerifyTestStore()
        try await store.add("left-pad", leftPad)
        try await store.add("@scope/pkg", scoped)
        return store
    }
}

/// Deterministic bytes standing for a tarball (verify hashes bytes; it does not unpack them).
func tarballBytes(_ seed: String, size: Int = 4_000) -> [UInt8] {
    var bytes: [UInt8] = []
    bytes.reserveCapacity(size)
    var block = Array(SHA256.hash(data: Array(seed.utf8)))
    while bytes.count < size {
        bytes += block
        block = Array(SHA256.hash(data: block))
    }
    return Array(bytes.prefix(size))
}

extension VerificationReport {
    /// The failures of one kind.
    func failures(_ kind: VerificationFailure.Kind) -> [VerificationFailure] { failures.filter { $0.kind == kind } }
}
