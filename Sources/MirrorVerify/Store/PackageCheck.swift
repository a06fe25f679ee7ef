import Foundation
import MirrorJSON
import MirrorSignatures
import MirrorStore
import NPMRegistry

/// What checking one package folder found.
struct PackageOutcome: Sendable {
    var tarballs = 0
    var bytesHashed: Int64 = 0
    var signatures: [SignatureVerdict: Int] = [:]
    var attestations: [ProvenanceVerdict: Int] = [:]
    var failures: [VerificationFailure] = []
}

/// Checks one package folder against its stored current packument, offline: every file explained,
/// every stored tarball's digest, every kept version's signature, every stored attestations response.
/// Blocking (file reads and hashing): run it on `BlockingWork`'s threads.
struct PackageCheck: Sendable {
    let store: PackageStore
    let signatures: SignatureVerifier
    let provenance: ProvenanceVerifier
    /// False: every version of the packument is kept (metadata-only mirror).
    let fetchTarballs: Bool
    let progress: VerificationProgress

    /// Files and folders a package folder may hold besides tarballs and `attestations/`.
    private static let packumentFile = "packument.json.gz"
    private static let legacyRevisionMarker = "packument.rev"
    private static let originalNameFile = "original-name.txt"
    private static let revisionsFolder = "revisions"

    func run(directory: String) -> PackageOutcome {
        var outcome = PackageOutcome()
        var context = Context(directory: directory, outcome: outcome)
        check(&context)
        outcome = context.outcome
        return outcome
    }

    /// The state of one package's check.
    private struct Context {
        let directory: String
        var outcome: PackageOutcome
        var package: String?

        mutating func fail(_ kind: VerificationFailure.Kind, version: String? = nil, file: String? = nil, _ message: String) {
            let path = file.map { directory + "/" + $0 } ?? directory
            outcome.failures.append(VerificationFailure(kind: kind, package: package, version: version, path: path, message: message))
        }
    }

    private func check(_ context: inout Context) {
        let directory = context.directory
        guard let name = store.packageName(forDirectory: directory) else {
            let folder = String(directory.split(separator: "/").last ?? "")
            let why = PackageNameEncoding.isHashed(folder)
                ? "a hashed package folder without a readable original-name.txt"
                : "a folder whose name is not an encoded package name"
            context.fail(.unexplainedFile, why)
            return
        }
        context.package = name
        guard store.packageDirectory(for: name) == directory else {
            context.fail(.misplacedPackage, "the folder of \(name) belongs at \(store.packageDirectory(for: name))")
            return
        }
        let entries: [PackageStore.DirectoryEntry]
        do {
            entries = try store.directoryEntries(directory) ?? []
        } catch {
            context.fail(.ioError, "cannot list the package folder: \(error)")
            return
        }

        // The current packument.
        var packument: Packument?
        if !entries.contains(where: { $0.name == Self.packumentFile && !$0.isDirectory }) {
            context.fail(.missingPackument, file: Self.packumentFile, "no current packument: nothing explains the package's files")
        } else {
            do {
                if let bytes = try store.readPackument(name: name) {
                    packument = try Packument.parse(bytes, expectedName: name)
                } else {
                    context.fail(.missingPackument, file: Self.packumentFile, "the current packument vanished while verifying")
                }
            } catch {
                context.fail(.corruptPackument, file: Self.packumentFile, "\(error)")
            }
        }

        // Tarballs: file names the store gives the versions it finds.
        let storedVersions: [String]
        do {
            storedVersions = Array(Set(try store.storedVersions(name: name))).sorted()
        } catch {
            context.fail(.ioError, "cannot list the tarballs: \(error)")
            return
        }
        var tarballFiles: [String: String] = [:]  // file name → version
        var fileOfVersion: [String: String] = [:]
        for version in storedVersions {
            guard let file = try? store.tarballFileName(name: name, version: version) else { continue }
            tarballFiles[file] = version
            fileOfVersion[version] = file
        }

        // Every entry of the folder is explained, or reported.
        var hasAttestationsFolder = false
        for entry in entries {
            if entry.isTemporary {
                context.fail(.temporaryFile, file: entry.name, "a temporary \(entry.isDirectory ? "folder" : "file") (an interrupted write, or one in progress)")
                continue
            }
            switch (entry.name, entry.isDirectory) {
            case (Self.packumentFile, false), (Self.legacyRevisionMarker, false):
                continue
            case (Self.originalNameFile, false) where PackageNameEncoding.isHashed(PackageNameEncoding.encode(name)):
                continue
            case (Self.revisionsFolder, true):
                checkFolder(Self.revisionsFolder, in: &context, allowed: { $0.hasSuffix(".json.gz") }, what: "a packument revision")
            case (PackageStore.servedFolderName, true):
                checkFolder(PackageStore.servedFolderName, in: &context, allowed: { _ in true }, what: "a served document")
            case (PackageStore.attestationsFolderName, true):
                hasAttestationsFolder = true
            default:
                if !entry.isDirectory, tarballFiles[entry.name] != nil { continue }
                context.fail(
                    .unexplainedFile, file: entry.name,
                    entry.name.hasSuffix(".tgz") && !entry.isDirectory
                        ? "a .tgz whose name is not a tarball name of this package"
                        : "a \(entry.isDirectory ? "folder" : "file") no packument or record explains")
            }
        }

        // Stored tarballs against the packument.
        for version in storedVersions {
            guard let file = fileOfVersion[version] else { continue }
            guard let packument else {
                context.fail(.unexplainedTarball, version: version, file: file, "a stored tarball with no current packument to explain it")
                continue
            }
            guard let entry = packument.versions[version] else {
                if let reason = packument.malformedVersions[version] {
                    context.fail(.malformedVersion, version: version, file: file, "the packument's entry for this stored version is unusable (\(reason))")
                } else {
                    context.fail(.unexplainedTarball, version: version, file: file, "a stored tarball whose version is not in the current packument")
                }
                continue
            }
            checkTarball(file: file, version: version, entry: entry, in: &context)
        }

        guard let packument else {
            if hasAttestationsFolder { checkAttestations(name: name, packument: nil, kept: [], in: &context) }
            return
        }

        // Kept versions: those with a stored tarball, or all of them in a metadata-only mirror.
        let kept: Set<String> = fetchTarballs ? Set(storedVersions).intersection(packument.versions.keys) : Set(packument.versions.keys)
        if !fetchTarballs {
            for (version, reason) in packument.malformedVersions.sorted(by: { $0.key < $1.key }) where !storedVersions.contains(version) {
                context.fail(.malformedVersion, version: version, file: Self.packumentFile, "the packument's entry for this version is unusable (\(reason)): its signature cannot be checked")
            }
        }
        for version in kept.sorted() {
            guard let entry = packument.versions[version] else { continue }
            checkSignature(packument: packument, version: version, entry: entry, in: &context)
        }
        if hasAttestationsFolder { checkAttestations(name: name, packument: packument, kept: kept, in: &context) }
    }

    /// A subfolder whose files are explained by their names alone (`revisions/`, `served/`).
    private func checkFolder(_ folder: String, in context: inout Context, allowed: (String) -> Bool, what: String) {
        let entries: [PackageStore.DirectoryEntry]
        do {
            entries = try store.directoryEntries(context.directory + "/" + folder) ?? []
        } catch {
            context.fail(.ioError, file: folder, "cannot list the folder: \(error)")
            return
        }
        for entry in entries {
            let file = folder + "/" + entry.name
            if entry.isTemporary {
                context.fail(.temporaryFile, file: file, "a temporary \(entry.isDirectory ? "folder" : "file") (an interrupted write, or one in progress)")
            } else if entry.isDirectory || !allowed(entry.name) {
                context.fail(.unexplainedFile, file: file, "a \(entry.isDirectory ? "folder" : "file") that is not \(what)")
            }
        }
    }

    private func checkTarball(file: String, version: String, entry: Packument.Version, in context: inout Context) {
        let expected: ExpectedDigest
        do {
            expected = try ExpectedDigest(integrity: entry.integrity, shasum: entry.shasum)
        } catch {
            context.fail(.noUsableDigest, version: version, file: file, (error as? TarballVerificationError)?.message ?? "\(error)")
            return
        }
        var verifier = DigestVerifier(expected: expected)
        let path = store.root + "/" + context.directory + "/" + file
        do {
            try FileHashing.feed(path: path) { chunk in
                verifier.update(chunk)
                progress.addBytes(chunk.count)
            }
        } catch {
            context.fail(.ioError, version: version, file: file, "\(error)")
            return
        }
        context.outcome.tarballs += 1
        context.outcome.bytesHashed += verifier.byteCount
        progress.addTarball()
        do {
            _ = try verifier.finalize()
        } catch {
            let message = (error as? TarballVerificationError)?.message ?? "\(error)"
            context.fail(.integrityMismatch, version: version, file: file, "\(message); the packument says \(entry.integrity ?? entry.shasum.map { "shasum \($0)" } ?? "nothing")")
        }
    }

    private func checkSignature(packument: Packument, version: String, entry: Packument.Version, in context: inout Context) {
        let verdict: SignatureVerdict
        if entry.signatures.isEmpty {
            verdict = .missing
        } else {
            var dist: [String: JSONValue] = [:]
            if let integrity = entry.integrity { dist["integrity"] = .string(integrity) }
            if let shasum = entry.shasum { dist["shasum"] = .string(shasum) }
            if let integrity = SignatureVerifier.signedIntegrity(dist: .object(dist)) {
                verdict = signatures.verify(
                    packageName: packument.name, version: version, integrity: integrity, signatures: entry.signatures,
                    publishedAt: publishedAt(packument, version))
            } else {
                verdict = .invalid
            }
        }
        context.outcome.signatures[verdict, default: 0] += 1
        guard let kind = VerificationFailure.Kind.signature(verdict.rawValue) else { return }
        let keyids = entry.signatures.map(\.keyid).joined(separator: ", ")
        let message: String
        switch verdict {
        case .missing: message = "the version has no registry signatures"
        case .unknownKey: message = "signed only by keys that are not trusted (\(keyids))"
        case .expiredKey: message = "signed by a key that had expired when it was published (\(keyids), published \(packument.time[version] ?? "at an unknown time"))"
        default: message = "the registry signature does not verify over \(packument.name)@\(version):\(entry.integrity ?? "(no integrity)") (\(keyids))"
        }
        context.fail(kind, version: version, file: Self.packumentFile, message)
    }

    private func checkAttestations(name: String, packument: Packument?, kept: Set<String>, in context: inout Context) {
        let folder = PackageStore.attestationsFolderName
        let entries: [PackageStore.DirectoryEntry]
        do {
            entries = try store.directoryEntries(context.directory + "/" + folder) ?? []
        } catch {
            context.fail(.ioError, file: folder, "cannot list the folder: \(error)")
            return
        }
        let suffix = ".json.gz"
        for entry in entries {
            let file = folder + "/" + entry.name
            if entry.isTemporary {
                context.fail(.temporaryFile, file: file, "a temporary \(entry.isDirectory ? "folder" : "file") (an interrupted write, or one in progress)")
                continue
            }
            guard !entry.isDirectory, entry.name.hasSuffix(suffix),
                let version = PackageNameEncoding.decode(String(entry.name.dropLast(suffix.count))),
                (try? store.attestationsPath(name: name, version: version)) == context.directory + "/" + file
            else {
                context.fail(.unexplainedFile, file: file, "a \(entry.isDirectory ? "folder" : "file") that is not a version's attestations")
                continue
            }
            guard let packument, kept.contains(version), packument.versions[version] != nil else {
                context.fail(
                    .unexplainedAttestations, version: version, file: file,
                    packument == nil
                        ? "stored attestations with no current packument to explain them"
                        : "stored attestations of a version that is not kept" + (fetchTarballs ? " (no stored tarball)" : " (not in the packument)"))
                continue
            }
            let body: [UInt8]
            do {
                guard let read = try store.readAttestations(name: name, version: version) else {
                    context.fail(.corruptAttestations, version: version, file: file, "the attestations file vanished while verifying")
                    continue
                }
                body = read
            } catch {
                context.fail(.corruptAttestations, version: version, file: file, "\(error)")
                continue
            }
            let result = provenance.verify(
                attestationsBody: body, packageName: packument.name, version: version,
                integrity: packument.versions[version]?.integrity ?? "", publishedAt: publishedAt(packument, version))
            context.outcome.attestations[result.verdict, default: 0] += 1
            if result.verdict == .invalid {
                context.fail(.provenanceInvalid, version: version, file: file, result.failures.map(\.description).joined(separator: "; "))
            }
        }
    }

    /// `time[version]` as the signature verifiers take it: absent is nil (2015-01-01), present but not a
    /// time is the far future (no expiring key is good for it, as in pacote).
    private func publishedAt(_ packument: Packument, _ version: String) -> Date? {
        packument.time[version].map { PublishTime.parse($0) ?? .distantFuture }
    }
}
