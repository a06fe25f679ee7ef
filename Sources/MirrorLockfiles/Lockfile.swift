import Foundation

/// A lockfile of npm, pnpm or Yarn, reduced to the packages it names.
///
/// `npm-mirror check-lockfile` asks whether the mirror can serve every ``registryPackages`` entry
/// offline; `npm-mirror pin` keeps those versions. Entries that do not come from the registry (git,
/// local directories, links, workspaces, arbitrary tarball URLs) are kept in ``entries`` so the
/// caller can say why they are out of the mirror's reach.
public struct Lockfile: Sendable {
    /// Which tool wrote the file.
    public enum Format: String, Sendable, Hashable, CaseIterable {
        /// `package-lock.json` or `npm-shrinkwrap.json`.
        case npm
        /// `pnpm-lock.yaml`.
        case pnpm
        /// `yarn.lock` of Yarn 1 (its own indented format).
        case yarnClassic = "yarn-classic"
        /// `yarn.lock` of Yarn 2 and later (YAML with `__metadata`).
        case yarnBerry = "yarn-berry"
    }

    /// The tool that wrote the file.
    public var format: Format
    /// The file's own format version as written: npm's `lockfileVersion` (`"1"`, `"2"`, `"3"`), pnpm's
    /// `lockfileVersion` (`"6.0"`, `"9.0"`, `"5.4"`), Yarn Berry's `__metadata.version` (`"8"`), `"1"`
    /// for Yarn classic.
    public var formatVersion: String
    /// Every package the file names, in file order; the same name and version may appear several
    /// times (npm installs one copy per location, Yarn lists one entry per set of ranges).
    public var entries: [LockfileEntry]

    public init(format: Format, formatVersion: String, entries: [LockfileEntry]) {
        self.format = format
        self.formatVersion = formatVersion
        self.entries = entries
    }

    /// The registry packages of ``entries``, one per name and version, sorted by name then version.
    /// The integrity is the first one written for that name and version (entries of one file agree
    /// unless the file was edited by hand; the caller's tarball check catches a wrong one).
    /// Computed on each call.
    public var registryPackages: [RegistryPackage] {
        var byKey: [RegistryPackage.Key: RegistryPackage] = [:]
        for entry in entries {
            guard entry.source == .registry, let version = entry.version else { continue }
            let key = RegistryPackage.Key(name: entry.name, version: version)
            if var known = byKey[key] {
                if known.integrity == nil, let integrity = entry.integrity {
                    known.integrity = integrity
                    byKey[key] = known
                }
            } else {
                byKey[key] = RegistryPackage(name: entry.name, version: version, integrity: entry.integrity)
            }
        }
        return byKey.values.sorted()
    }

    /// The entries that do not come from the registry.
    public var nonRegistryEntries: [LockfileEntry] {
        entries.filter { $0.source != .registry }
    }
}

/// One package named by a lockfile, at one place in it.
public struct LockfileEntry: Sendable, Hashable {
    /// Where the package's contents come from.
    ///
    /// Only ``registry`` entries can be served by the mirror; the associated strings of the other
    /// cases are as written in the lockfile (a URL, a path, a spec), for messages.
    public enum Source: Sendable, Hashable {
        /// A tarball of the npm registry (any registry host): `name@version` is all the mirror needs.
        case registry
        /// A git repository (`git+ssh://…#sha`, `github:u/r#sha`, a codeload.github.com tarball, …).
        case git(String)
        /// A local directory or tarball (`file:`).
        case file(String)
        /// A symbolic link to a local directory (npm `link: true`, pnpm `link:`, Yarn `link:`/`portal:`).
        case link(String)
        /// A workspace member of the project itself (its path).
        case workspace(String)
        /// A tarball URL that is not a registry tarball of this name and version.
        case remoteTarball(String)
        /// A package bundled inside its parent's tarball (`inBundle`/`bundled`): nothing to fetch.
        case bundled
        /// Anything else: an unknown protocol, a Yarn `exec:`, an invalid package name or version.
        case other(String)
    }

    /// The real registry name (after an npm alias). For git, file and link entries of Yarn Berry and
    /// pnpm this may be the name the project installs it under: those files do not always record
    /// the package's own name.
    public var name: String
    /// The installed-under name when it differs from ``name`` (`"my-lodash": "npm:lodash@^4"`).
    public var alias: String?
    /// The exact version; always set for ``Source/registry`` entries, otherwise as written if any.
    public var version: String?
    /// The Subresource Integrity string as written (it may hold several space-separated hashes);
    /// nil when there is none or the file's checksum is not a digest of the npm tarball (Yarn
    /// Berry's `checksum` hashes Yarn's own zip). See ``Integrity``.
    public var integrity: String?
    /// The tarball URL or other resolution as written, when the file has one.
    public var resolved: String?
    /// Where the package comes from.
    public var source: Source
    /// Where in the lockfile the entry is (an npm `packages` key, a pnpm package key, a Yarn
    /// descriptor list), for messages.
    public var location: String

    public init(
        name: String, alias: String? = nil, version: String?, integrity: String? = nil, resolved: String? = nil,
        source: Source, location: String
    ) {
        self.name = name
        self.alias = alias
        self.version = version
        self.integrity = integrity
        self.resolved = resolved
        self.source = source
        self.location = location
    }
}

/// A registry package version named by a lockfile.
public struct RegistryPackage: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var name: String
    public var version: String
    /// The SRI string the lockfile gives for the tarball, if any.
    public var integrity: String?

    public init(name: String, version: String, integrity: String? = nil) {
        self.name = name
        self.version = version
        self.integrity = integrity
    }

    /// `name@version`.
    public var description: String { "\(name)@\(version)" }

    /// Orders by name, then version (as strings), then integrity.
    public static func < (lhs: RegistryPackage, rhs: RegistryPackage) -> Bool {
        if lhs.name != rhs.name { return lhs.name < rhs.name }
        if lhs.version != rhs.version { return lhs.version < rhs.version }
        return (lhs.integrity ?? "") < (rhs.integrity ?? "")
    }

    struct Key: Hashable {
        var name: String
        var version: String
    }
}
