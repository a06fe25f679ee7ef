import Foundation
import MirrorJSON

/// Reads `package-lock.json` and `npm-shrinkwrap.json`.
///
/// - lockfileVersion 1: the nested `dependencies` tree (`version` is `npm:real@1.2.3` for an alias,
///   a git spec, `file:…` or a tarball URL for those sources).
/// - lockfileVersion 2 and 3: the flat `packages` map keyed by install path
///   (`node_modules/a/node_modules/@s/b`); `name` holds the real name of an alias; `link: true`
///   marks a symlink; keys without `node_modules/` are workspace members and link targets; `""` is
///   the project itself and is skipped. Version 2 also carries the version 1 tree, which is used
///   only when `packages` is missing.
///
/// JSON objects are unordered here, so entries come in key order (as npm writes them).
struct NPMLockfileReader {
    var context: ReadContext

    func read(_ bytes: some Collection<UInt8>) throws -> Lockfile {
        let root: JSONValue
        do {
            root = try JSONValue(parsing: bytes)
        } catch {
            throw context.malformed("not valid JSON: \(error)")
        }
        guard let object = root.objectValue else { throw context.invalid("the top level is not a JSON object") }
        guard let versionValue = object["lockfileVersion"] else {
            throw LockfileError(.unrecognized, file: context.file, "JSON without \"lockfileVersion\": not a package-lock.json")
        }
        guard let version = versionValue.intValue else {
            throw context.invalid("\"lockfileVersion\" is not an integer")
        }
        let entries: [LockfileEntry]
        switch version {
        case 1:
            entries = try readTree(object["dependencies"])
        case 2, 3:
            if let packages = object["packages"] {
                entries = try readPackages(packages)
            } else if version == 2 {
                entries = try readTree(object["dependencies"])
            } else {
                entries = []
            }
        default:
            throw context.unsupported("lockfileVersion \(version) is not one of 1, 2, 3")
        }
        return Lockfile(format: .npm, formatVersion: String(version), entries: entries.map { $0.validated() })
    }

    // MARK: - lockfileVersion 2 and 3

    private func readPackages(_ value: JSONValue) throws -> [LockfileEntry] {
        guard let packages = value.objectValue else { throw context.invalid("\"packages\" is not an object") }
        var entries: [LockfileEntry] = []
        entries.reserveCapacity(packages.count)
        for key in packages.keys.sorted() where !key.isEmpty {
            let location = "packages[\"\(LockfileError.displayable(key))\"]"
            guard let fields = packages[key]?.objectValue else { throw context.invalid("\(location) is not an object") }
            let nameField = try string(fields, "name", at: location)
            let version = try string(fields, "version", at: location)
            let resolved = try string(fields, "resolved", at: location)
            let integrity = try string(fields, "integrity", at: location)
            let isLink = try bool(fields, "link", at: location)
            let inBundle = try bool(fields, "inBundle", at: location)

            let installedName = Self.installedName(ofKey: key)
            let name = nameField ?? installedName ?? Self.lastPathComponent(key)
            let alias = installedName.flatMap { $0 == name ? nil : $0 }
            let source: LockfileEntry.Source
            if isLink {
                source = .link(resolved ?? "")
            } else if installedName == nil {
                source = .workspace(key)
            } else if inBundle {
                source = .bundled
            } else if let resolved {
                source = PackageSpec.source(ofResolved: resolved, name: name, version: version)
            } else if let version, PackageSpec.isExactVersion(version) {
                // Written without `resolved` (npm's omit-lockfile-registry-resolved): a registry package.
                source = .registry
            } else {
                source = .other("neither a resolved URL nor an exact version")
            }
            entries.append(
                LockfileEntry(
                    name: name, alias: alias, version: version, integrity: integrity, resolved: resolved, source: source,
                    location: key))
        }
        return entries
    }

    /// The name a `packages` key installs under: what follows the last `node_modules/`, or nil for
    /// a key outside `node_modules` (a workspace member or link target).
    static func installedName(ofKey key: String) -> String? {
        let marker = "node_modules/"
        guard let range = key.range(of: marker, options: .backwards) else { return nil }
        let start = range.upperBound
        guard range.lowerBound == key.startIndex || key[key.index(before: range.lowerBound)] == "/" else { return nil }
        return String(key[start...])
    }

    private static func lastPathComponent(_ path: String) -> String {
        path.split(separator: "/").last.map(String.init) ?? path
    }

    // MARK: - lockfileVersion 1

    /// The nested `dependencies` tree, breadth first without recursion (the JSON parser already
    /// bounds the depth).
    private func readTree(_ value: JSONValue?) throws -> [LockfileEntry] {
        guard let value else { return [] }
        guard let root = value.objectValue else { throw context.invalid("\"dependencies\" is not an object") }
        var entries: [LockfileEntry] = []
        var pending: [(prefix: String, dependencies: [String: JSONValue])] = [("", root)]
        var next = 0
        while next < pending.count {
            let (prefix, dependencies) = pending[next]
            next += 1
            for key in dependencies.keys.sorted() {
                let path = prefix + "node_modules/" + key
                let location = "dependencies \"\(LockfileError.displayable(path))\""
                guard let fields = dependencies[key]?.objectValue else { throw context.invalid("\(location) is not an object") }
                entries.append(try treeEntry(key: key, path: path, fields: fields, location: location))
                if let nested = fields["dependencies"] {
                    guard let nestedObject = nested.objectValue else {
                        throw context.invalid("\(location): \"dependencies\" is not an object")
                    }
                    pending.append((path + "/", nestedObject))
                }
            }
        }
        return entries
    }

    private func treeEntry(key: String, path: String, fields: [String: JSONValue], location: String) throws -> LockfileEntry {
        let written = try string(fields, "version", at: location)
        let resolved = try string(fields, "resolved", at: location)
        let integrity = try string(fields, "integrity", at: location)
        let bundled = try bool(fields, "bundled", at: location)
        var name = key
        var alias: String?
        var version = written
        let source: LockfileEntry.Source
        if let spec = written, spec.hasPrefix("npm:"), let (real, exact) = PackageSpec.splitNameAndRest(spec.dropFirst(4)) {
            name = String(real)
            alias = key
            version = String(exact)
        }
        guard let spec = version else {
            return LockfileEntry(
                name: name, version: nil, integrity: integrity, resolved: resolved, source: .other("no version"), location: path)
        }
        if bundled {
            source = .bundled
        } else if spec.hasPrefix("file:") {
            source = .file(String(spec.dropFirst(5)))
            version = nil
        } else if PackageSpec.isGit(spec) {
            source = .git(resolved ?? spec)
            version = nil
        } else if spec.hasPrefix("https://") || spec.hasPrefix("http://") {
            source = .remoteTarball(spec)
            version = nil
        } else if let resolved {
            source = PackageSpec.source(ofResolved: resolved, name: name, version: spec)
        } else {
            source = .registry
        }
        return LockfileEntry(
            name: name, alias: alias, version: version, integrity: integrity, resolved: resolved, source: source, location: path)
    }

    // MARK: - Typed fields

    private func string(_ fields: [String: JSONValue], _ key: String, at location: String) throws -> String? {
        guard let value = fields[key], !value.isNull else { return nil }
        guard let string = value.stringValue else { throw context.invalid("\(location): \"\(key)\" is not a string") }
        return string
    }

    private func bool(_ fields: [String: JSONValue], _ key: String, at location: String) throws -> Bool {
        guard let value = fields[key], !value.isNull else { return false }
        guard let bool = value.boolValue else { throw context.invalid("\(location): \"\(key)\" is not true or false") }
        return bool
    }
}
