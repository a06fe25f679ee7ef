import NPMNames
import Foundation
import Yams

/// Reads the `yarn.lock` of Yarn 2 and later: YAML whose first key is `__metadata`, then one entry
/// per resolved package keyed by the descriptors that resolve to it
/// (`"name@npm:^1.0.0, name@npm:^1.2.0"`), with `resolution: "name@npm:1.2.3"`.
///
/// The protocol of the resolution's reference decides the source: `npm:` is the registry (an
/// alias is a descriptor `alias@npm:real@^1` resolving to `real@npm:1.0.0`), `patch:` is the
/// source of the package it patches (`resolve@patch:resolve@npm%3A1.22.8#…` is resolve@1.22.8 of
/// the registry, the percent-encoded inner locator decoded), `workspace:` a workspace, `link:` and
/// `portal:` links, `file:` a local directory or tarball, git URLs (`#commit=`) git, other http(s)
/// URLs tarballs, `exec:` and anything else `other`.
///
/// `checksum` hashes Yarn's own zip of the package, not the npm tarball, so ``LockfileEntry/integrity``
/// is always nil here.
struct YarnBerryReader {
    var context: ReadContext
    private var yaml: YAMLAccess { YAMLAccess(context: context) }

    init(context: ReadContext) {
        self.context = context
    }

    func read(_ text: String) throws -> Lockfile {
        let root = try YAMLDocument.load(text, context: context)
        let top = try yaml.mapping(root, at: "the top level")
        guard let metadataNode = yaml.member(top, "__metadata") else {
            throw LockfileError(.unrecognized, file: context.file, "no __metadata: not a Yarn 2+ yarn.lock")
        }
        let metadata = try yaml.mapping(metadataNode, at: "__metadata")
        guard let version = try yaml.string(yaml.member(metadata, "version"), at: "__metadata.version") else {
            throw context.invalid("__metadata has no version", line: metadataNode.mark?.line)
        }

        var entries: [LockfileEntry] = []
        for (key, node) in top where key != "__metadata" {
            let location = LockfileError.displayable(key, limit: 200)
            let fields = try yaml.mapping(node, at: "\"\(location)\"")
            guard let resolution = try yaml.string(yaml.member(fields, "resolution"), at: "\"\(location)\".resolution") else {
                throw context.invalid("\"\(location)\" has no resolution", line: node.mark?.line)
            }
            let versionField = try yaml.string(yaml.member(fields, "version"), at: "\"\(location)\".version")
            guard let package = Self.classify(locator: resolution, versionField: versionField, depth: 0) else {
                throw context.invalid(
                    "\"\(location)\": resolution \"\(LockfileError.displayable(resolution))\" is not name@reference",
                    line: node.mark?.line)
            }
            for installedName in Self.descriptorNames(key) {
                let entry = LockfileEntry(
                    name: package.name, alias: installedName == package.name ? nil : installedName, version: package.version,
                    integrity: nil, resolved: resolution, source: package.source, location: key)
                entries.append(entry.validated())
            }
        }
        return Lockfile(format: .yarnBerry, formatVersion: version, entries: entries)
    }

    /// The distinct names of a key's comma-separated descriptors, in order; the key itself when
    /// none parses.
    static func descriptorNames(_ key: String) -> [String] {
        var names: [String] = []
        for descriptor in key.split(separator: ",") {
            let trimmed = descriptor.drop(while: { $0 == " " })
            guard let (name, _) = PackageSpec.splitNameAndRest(trimmed) else { continue }
            if !names.contains(String(name)) { names.append(String(name)) }
        }
        return names.isEmpty ? [key] : names
    }

    /// The package a locator (`name@reference`) resolves to. `depth` bounds nested `patch:`es.
    static func classify(locator: String, versionField: String?, depth: Int)
        -> (name: String, version: String?, source: LockfileEntry.Source)?
    {
        guard let (identSubstring, reference) = PackageSpec.splitNameAndRest(Substring(locator)) else { return nil }
        let ident = String(identSubstring)
        /// The reference up to `#` or `::` (where Yarn's hashes and parameters start).
        func path(after prefix: String) -> String {
            var rest = reference.dropFirst(prefix.count)
            if let parameters = rest.range(of: "::") { rest = rest[..<parameters.lowerBound] }
            if let hash = rest.firstIndex(of: "#") { rest = rest[..<hash] }
            return String(rest)
        }
        if reference.hasPrefix("npm:") {
            return (ident, path(after: "npm:"), .registry)
        }
        if reference.hasPrefix("patch:") {
            var inner = reference.dropFirst("patch:".count)
            if let hash = inner.firstIndex(of: "#") { inner = inner[..<hash] }
            if depth < 4, let decoded = URLEncoding.decoded(inner),
                let patched = classify(locator: decoded, versionField: versionField, depth: depth + 1)
            {
                return patched
            }
            return (ident, versionField, .other("patch \(LockfileError.displayable(String(reference)))"))
        }
        if reference.hasPrefix("workspace:") { return (ident, versionField, .workspace(path(after: "workspace:"))) }
        if reference.hasPrefix("link:") { return (ident, versionField, .link(path(after: "link:"))) }
        if reference.hasPrefix("portal:") { return (ident, versionField, .link(path(after: "portal:"))) }
        if reference.hasPrefix("file:") { return (ident, versionField, .file(path(after: "file:"))) }
        if reference.hasPrefix("exec:") {
            return (ident, versionField, .other("exec \(LockfileError.displayable(path(after: "exec:")))"))
        }
        let text = String(reference)
        if PackageSpec.isGit(text) { return (ident, versionField, .git(text)) }
        if text.hasPrefix("https://") || text.hasPrefix("http://") {
            let source = PackageSpec.source(ofResolved: text, name: ident, version: versionField)
            return (ident, versionField, source)
        }
        return (ident, versionField, .other("reference \(LockfileError.displayable(text))"))
    }
}
