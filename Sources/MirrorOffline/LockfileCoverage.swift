import Foundation
import MirrorJSON
import MirrorLockfiles
import MirrorStore
import NPMNames
import NPMRegistry

/// Whether the mirror can serve, offline, every package a lockfile names (`npm-mirror check-lockfile`):
/// for each registry package, that the store holds a packument listing the version, that serve does
/// not hold it back (`SERVE_MIN_AGE`), that its tarball is held, and that the held tarball's digest is
/// the lockfile's integrity (hashed with the strongest algorithm the lockfile gives, as npm checks).
public struct LockfileCoverage: Sendable {
    /// What the mirror can do for one lockfile entry.
    public enum Verdict: String, Sendable, Hashable, CaseIterable {
        /// Served: version listed, tarball held, integrity equal (or none in the lockfile to compare).
        case served
        /// The store has no packument of the package (or it was unpublished).
        case packageMissing = "package_missing"
        /// The stored packument does not list the version.
        case versionMissing = "version_missing"
        /// Listed, but its tarball is not held (older than the newest `OLD_PACKAGE_VERSIONS_LIMIT` and
        /// not pinned, refused, or a metadata-only mirror).
        case tarballMissing = "tarball_missing"
        /// The held tarball's digest is not the lockfile's integrity: `npm ci` would refuse it.
        case integrityMismatch = "integrity_mismatch"
        /// Published less than `SERVE_MIN_AGE` ago: serve leaves it out for now.
        case heldBack = "held_back"
        /// Not a registry package (git, file, link, workspace, remote tarball, bundled): not the
        /// mirror's to serve, and not counted against the lockfile.
        case notRegistry = "not_registry"

        /// Whether this verdict stops an offline install.
        public var failsInstall: Bool {
            switch self {
            case .served, .notRegistry: false
            case .packageMissing, .versionMissing, .tarballMissing, .integrityMismatch, .heldBack: true
            }
        }
    }

    /// One package of the lockfile and its verdict.
    public struct Row: Sendable, Hashable {
        public var name: String
        public var version: String?
        public var verdict: Verdict
        /// Why, in a few words (the kind of a non-registry entry, the date a cooldown ends, …).
        public var detail: String
    }

    /// The rows of one lockfile.
    public struct Report: Sendable {
        public var path: String
        public var format: Lockfile.Format
        public var formatVersion: String
        public var rows: [Row]

        /// True when every registry package can be installed from the mirror.
        public var installsOffline: Bool { !rows.contains { $0.verdict.failsInstall } }

        public func count(_ verdict: Verdict) -> Int { rows.lazy.filter { $0.verdict == verdict }.count }

        public var json: JSONValue {
            .object([
                "path": .string(path),
                "format": .string(format.rawValue),
                "format_version": .string(formatVersion),
                "installs_offline": .bool(installsOffline),
                "counts": .object(Dictionary(uniqueKeysWithValues: Verdict.allCases.map { ($0.rawValue, JSONValue.number(Double(count($0)))) })),
                "packages": .array(rows.map { row in
                    .object([
                        "name": .string(row.name),
                        "version": row.version.map(JSONValue.string) ?? .null,
                        "verdict": .string(row.verdict.rawValue),
                        "detail": .string(row.detail),
                    ])
                }),
            ])
        }
    }

    let store: PackageStore
    /// `FETCH_TARBALLS=false`: no tarball is ever served.
    let metadataOnly: Bool
    let cooldown: ReleaseCooldown?
    let now: Int64

    public init(store: PackageStore, metadataOnly: Bool = false, cooldown: ReleaseCooldown? = nil, now: Int64 = ReleaseCooldown.now()) {
        self.store = store
        self.metadataOnly = metadataOnly
        self.cooldown = cooldown
        self.now = now
    }

    /// Checks every package of `lockfile` (read from `path`) against the store (blocking: reads the
    /// packuments and hashes the tarballs).
    public func check(_ lockfile: Lockfile, path: String) -> Report {
        var rows: [Row] = []
        var packuments: [String: Packument?] = [:]
        for package in lockfile.registryPackages {
            if packuments[package.name] == nil { packuments[package.name] = .some(readPackument(package.name)) }
            rows.append(check(package, packument: packuments[package.name] ?? nil))
        }
        for entry in lockfile.nonRegistryEntries {
            rows.append(Row(name: entry.alias ?? entry.name, version: entry.version, verdict: .notRegistry, detail: Self.describe(entry.source)))
        }
        return Report(path: path, format: lockfile.format, formatVersion: lockfile.formatVersion, rows: rows)
    }

    private func readPackument(_ name: String) -> Packument? {
        guard PackageName.problem(with: name) == nil, let bytes = try? store.readPackument(name: name) else { return nil }
        return try? Packument.parse(bytes, expectedName: name)
    }

    private func check(_ package: RegistryPackage, packument: Packument?) -> Row {
        func row(_ verdict: Verdict, _ detail: String) -> Row {
            Row(name: package.name, version: package.version, verdict: verdict, detail: detail)
        }
        guard let packument, !packument.isUnpublished else {
            return row(.packageMissing, "the mirror has no packument of \(package.name)")
        }
        guard packument.versions[package.version] != nil else {
            return row(.versionMissing, "the mirror's packument (\(packument.rev ?? "no revision")) does not list \(package.version)")
        }
        if let cooldown, let published = packument.time[package.version], let until = cooldown.heldBackUntil(published: published, now: now) {
            return row(.heldBack, "published \(published); SERVE_MIN_AGE serves it from \(ReleaseCooldown.time(until))")
        }
        if metadataOnly {
            return row(.tarballMissing, "this mirror keeps metadata only (FETCH_TARBALLS=false)")
        }
        guard let fileName = try? store.tarballFileName(name: package.name, version: package.version),
            store.hasTarball(name: package.name, version: package.version)
        else {
            return row(.tarballMissing, "the tarball is not held (outside the newest versions kept, and not pinned)")
        }
        // The store's own check of a tarball against SRI: the strongest algorithm given, streamed.
        guard let integrity = package.integrity, var verifier = try? DigestVerifier(integrity: integrity, shasum: nil) else {
            return row(.served, "held (the lockfile gives no integrity to compare)")
        }
        let path = store.absolutePackageDirectory(for: package.name) + "/" + fileName
        guard let handle = FileHandle(forReadingAtPath: path) else { return row(.tarballMissing, "the held tarball cannot be read") }
        defer { try? handle.close() }
        do {
            while let chunk = try handle.read(upToCount: 1 << 20), !chunk.isEmpty { verifier.update(chunk) }
        } catch {
            return row(.tarballMissing, "the held tarball cannot be read: \(error)")
        }
        do {
            let match = try verifier.finalize()
            return row(.served, "held, \(match.algorithm) equal")
        } catch {
            return row(.integrityMismatch, "the held tarball is not the lockfile's: \(error)")
        }
    }

    static func describe(_ source: LockfileEntry.Source) -> String {
        switch source {
        case .registry: "registry"
        case .git(let url): "git: " + url
        case .file(let path): "file: " + path
        case .link(let path): "link: " + path
        case .workspace(let path): "workspace: " + path
        case .remoteTarball(let url): "remote tarball: " + url
        case .bundled: "bundled in its parent's tarball"
        case .other(let what): what
        }
    }

}
