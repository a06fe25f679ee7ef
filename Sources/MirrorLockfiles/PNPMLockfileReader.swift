import Yams

/// Reads `pnpm-lock.yaml`, lockfileVersion 5.x, 6.x and 9.x (7.x, written by pre-releases of
/// pnpm 9, is read as 9).
///
/// Entries come from the `packages` section, one per key: `/name/1.0.0_peer@2.0.0` (5.x),
/// `/@scope/name@1.0.0(peer@2.0.0)` (6.x) or `name@1.0.0` (9.x); peer suffixes are dropped. A
/// `name` or `version` field, which pnpm writes for packages whose key is not `name@version`
/// (git, tarball URLs, directories), wins over the key. The `resolution` decides the source:
/// `{integrity}` alone is the registry, `{tarball}` is a registry tarball when it has the
/// registry's shape and otherwise a git archive, a local `file:` tarball or a remote one,
/// `{type: git, repo, commit}` is git, `{type: directory, directory}` a local directory.
///
/// The importers (`importers:`, or the top level of a 5.x/6.x single-project file) add one entry
/// per `link:` dependency (source `link`) and one per npm alias (a dependency whose version names
/// another package: `lodash@4.17.21` in 9.x, `/lodash@4.17.21` in 6.x), a copy of that package's
/// entry with `alias` set. The 9.x `snapshots:` section repeats the packages with their peers and
/// is not read.
struct PNPMLockfileReader {
    var context: ReadContext
    private var yaml: YAMLAccess { YAMLAccess(context: context) }

    init(context: ReadContext) {
        self.context = context
    }

    func read(_ text: String) throws -> Lockfile {
        let root = try YAMLDocument.load(text, context: context)
        let top = try yaml.mapping(root, at: "the top level")
        guard let version = try yaml.string(yaml.member(top, "lockfileVersion"), at: "lockfileVersion") else {
            throw LockfileError(.unrecognized, file: context.file, "no lockfileVersion: not a pnpm-lock.yaml")
        }
        guard let major = Int(version.prefix(while: { $0.isASCII && $0.isNumber })), [5, 6, 7, 9].contains(major) else {
            throw context.unsupported("pnpm lockfileVersion \(LockfileError.displayable(version, limit: 40)) is not 5.x, 6.x or 9.x")
        }

        var entries: [LockfileEntry] = []
        var entryByKey: [String: LockfileEntry] = [:]
        if let packages = yaml.member(top, "packages") {
            for (key, fields) in try yaml.mapping(packages, at: "packages") {
                let entry = try packageEntry(key: key, fields: fields, major: major).validated()
                entries.append(entry)
                entryByKey[key] = entry
                let withoutPeers = Self.withoutPeerSuffix(key)
                if entryByKey[withoutPeers] == nil { entryByKey[withoutPeers] = entry }
            }
        }

        for dependency in try importerDependencies(top) {
            let location = "importers[\"\(LockfileError.displayable(dependency.importer))\"].\(dependency.section).\(LockfileError.displayable(dependency.name))"
            if dependency.version.hasPrefix("link:") {
                let entry = LockfileEntry(
                    name: dependency.name, version: nil, source: .link(String(dependency.version.dropFirst(5))),
                    location: location)
                entries.append(entry.validated())
            } else if let target = entryByKey[dependency.version] ?? entryByKey[Self.withoutPeerSuffix(dependency.version)],
                target.name != dependency.name
            {
                var aliased = target
                aliased.alias = dependency.name
                aliased.location = location
                entries.append(aliased.validated())
            }
        }
        return Lockfile(format: .pnpm, formatVersion: version, entries: entries)
    }

    // MARK: - Packages

    private func packageEntry(key: String, fields node: Node, major: Int) throws -> LockfileEntry {
        let location = "packages[\"\(LockfileError.displayable(key))\"]"
        let fields = try yaml.mapping(node, at: location)
        let parsed = Self.nameAndVersion(ofKey: key, major: major)
        let name = try yaml.string(yaml.member(fields, "name"), at: "\(location).name") ?? parsed?.name
        // A key's "version" is a URL or path for git, tarball and directory packages: only an exact
        // version is one.
        let version =
            try yaml.string(yaml.member(fields, "version"), at: "\(location).version")
            ?? parsed.flatMap { PackageSpec.isExactVersion($0.version) ? $0.version : nil }

        guard let resolutionNode = yaml.member(fields, "resolution") else {
            throw context.invalid("\(location) has no resolution", line: node.mark?.line)
        }
        let resolution = try yaml.mapping(resolutionNode, at: "\(location).resolution")
        func field(_ key: String) throws -> String? {
            try yaml.string(yaml.member(resolution, key), at: "\(location).resolution.\(key)")
        }
        let integrity = try field("integrity")
        let tarball = try field("tarball")
        let source: LockfileEntry.Source
        var resolved = tarball
        switch try field("type") {
        case "git":
            let repository = try field("repo") ?? ""
            let commit = try field("commit") ?? ""
            resolved = commit.isEmpty ? repository : "\(repository)#\(commit)"
            source = .git(resolved ?? "")
        case "directory":
            let directory = try field("directory") ?? ""
            resolved = directory
            source = .file(directory)
        case nil:
            if let tarball {
                source = PackageSpec.source(ofResolved: tarball, name: name ?? "", version: version)
            } else if integrity != nil {
                source = .registry
            } else {
                source = .other("a resolution with neither integrity nor tarball")
            }
        case let type?:
            source = .other("resolution type \(LockfileError.displayable(type, limit: 40))")
        }
        return LockfileEntry(
            name: name ?? key, version: version, integrity: integrity, resolved: resolved, source: source, location: key)
    }

    /// The name and version of a package key, peer suffixes dropped; nil when the key is not of
    /// that shape (git, URL and directory keys, whose fields carry name and version).
    static func nameAndVersion(ofKey key: String, major: Int) -> (name: String, version: String)? {
        var body = Substring(withoutPeerSuffix(key))
        if major == 5 {
            guard body.hasPrefix("/") else { return nil }
            body = body.dropFirst()
            let parts = body.split(separator: "/", omittingEmptySubsequences: false)
            let nameParts = body.hasPrefix("@") ? 2 : 1
            guard parts.count == nameParts + 1 else { return nil }
            let version = parts[nameParts].prefix(while: { $0 != "_" })
            return (parts[..<nameParts].joined(separator: "/"), String(version))
        }
        if body.hasPrefix("/") { body = body.dropFirst() }
        guard let (name, version) = PackageSpec.splitNameAndRest(body), !version.isEmpty else { return nil }
        return (String(name), String(version))
    }

    /// `key` without a `(peer@1.0.0)(other@2.0.0)` suffix.
    static func withoutPeerSuffix(_ key: String) -> String {
        guard let paren = key.firstIndex(of: "(") else { return key }
        return String(key[..<paren])
    }

    // MARK: - Importers

    private struct ImporterDependency {
        var importer: String
        var section: String
        var name: String
        var version: String
    }

    /// The direct dependencies of every importer (`importers:`), or of the single project at the
    /// top level when there is no `importers:`.
    private func importerDependencies(_ top: [(key: String, value: Node)]) throws -> [ImporterDependency] {
        var projects: [(path: String, fields: [(key: String, value: Node)])] = []
        if let importers = yaml.member(top, "importers") {
            for (path, project) in try yaml.mapping(importers, at: "importers") {
                projects.append((path, try yaml.mapping(project, at: "importers[\"\(LockfileError.displayable(path))\"]")))
            }
        } else {
            projects.append((".", top))
        }
        var dependencies: [ImporterDependency] = []
        for (path, fields) in projects {
            for section in ["dependencies", "devDependencies", "optionalDependencies"] {
                guard let sectionNode = yaml.member(fields, section) else { continue }
                let location = "importers[\"\(LockfileError.displayable(path))\"].\(section)"
                for (name, value) in try yaml.mapping(sectionNode, at: location) {
                    // 6.x and 9.x: {specifier, version}; 5.x: the version itself.
                    let versionNode: Node?
                    if case .mapping = value {
                        versionNode = yaml.member(try yaml.mapping(value, at: "\(location).\(name)"), "version")
                    } else {
                        versionNode = value
                    }
                    guard let version = try yaml.string(versionNode, at: "\(location).\(name).version") else { continue }
                    dependencies.append(ImporterDependency(importer: path, section: section, name: name, version: version))
                }
            }
        }
        return dependencies
    }
}
