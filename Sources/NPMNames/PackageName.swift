/// npm's rules for package names, and the registry paths made from them: one home for what the
/// registry client, the store, serve and the simulator need to know about a name.
public enum PackageName {
    /// npm's longest name (validate-package-name).
    public static let maximumLength = 214

    /// Why `name` is not a name npm could have published (names old packages may have included:
    /// capitals are allowed), or nil when it is one. At most 214 bytes, no leading `.` or `_`, not
    /// a reserved name, only the characters of ``ByteSet/packageName`` and, scoped, exactly
    /// `@scope/name` with both parts non-empty.
    public static func problem(with name: String) -> String? {
        guard !name.isEmpty else { return "the package name is empty" }
        guard name.utf8.count <= maximumLength else { return "the package name is longer than \(maximumLength) characters" }
        guard !name.hasPrefix("."), !name.hasPrefix("_") else { return "a package name cannot start with '.' or '_'" }
        guard name != "node_modules", name != "favicon.ico" else { return "\(name) is a reserved name" }
        let parts: [Substring]
        if name.hasPrefix("@") {
            parts = name.dropFirst().split(separator: "/", omittingEmptySubsequences: false)
            guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else { return "a scoped name is @scope/name, got \(name.prefix(100))" }
            guard parts[1] != ".", parts[1] != "..", parts[0] != ".", parts[0] != ".." else { return "'.' and '..' are not names" }
        } else {
            parts = [Substring(name)]
        }
        for part in parts where !part.utf8.allSatisfy(ByteSet.packageName.contains) {
            return "\(name.prefix(100)) has characters a package name cannot have (only letters, digits and -._~!*'())"
        }
        return nil
    }

    /// `@scope/name` → ("scope", "name"); `name` → (nil, "name"). A name starting with `@` without
    /// a `/` (or with nothing after it) is not scoped.
    public static func split(_ name: String) -> (scope: Substring?, basename: Substring) {
        if name.hasPrefix("@"), let slash = name.firstIndex(of: "/"), name.index(after: slash) < name.endIndex {
            return (name[name.index(after: name.startIndex)..<slash], name[name.index(after: slash)...])
        }
        return (nil, name[...])
    }

    /// The name without its `@scope/`.
    public static func basename(_ name: String) -> String {
        String(split(name).basename)
    }

    /// `@scope/name` or `name` as a URL path, each part percent-encoded beyond what a package name
    /// may hold (the `/` after the scope kept): the mirror's tarball and page links.
    public static func urlPath(_ name: String) -> String {
        let (scope, basename) = split(name)
        guard let scope else { return URLEncoding.encode(name, keeping: .packageName) }
        return "@" + URLEncoding.encode(scope, keeping: .packageName) + "/" + URLEncoding.encode(basename, keeping: .packageName)
    }

    /// The path of a package's document on the registry: `/name`, scoped `/@scope%2Fname` (the `/`
    /// escaped, as npm asks), anything else a path segment cannot carry percent-encoded.
    public static func registryPath(_ name: String) -> String {
        "/" + URLEncoding.encode(name, keeping: .pathSegment)
    }

    /// `/-/npm/v1/attestations/<name>@<version>`, the name as in ``registryPath(_:)``
    /// (`@scope%2Fname@1.0.0`).
    public static func attestationsPath(name: String, version: String) -> String {
        "/-/npm/v1/attestations/" + registryPath(name).dropFirst() + "@" + URLEncoding.encode(version, keeping: .unreserved.union("+"))
    }

    /// The tarball's file name on the registry, `<basename>-<version>.tgz`, unescaped.
    public static func tarballFileName(name: String, version: String) -> String {
        basename(name) + "-" + version + ".tgz"
    }

    /// `/@scope/name/-/name-1.0.0.tgz` (`/name/-/name-1.0.0.tgz`): the registry's canonical tarball
    /// path, each part escaped to `keeping` (the scope's `@` and the `/` after it kept).
    public static func tarballPath(name: String, version: String, keeping: ByteSet = .unreserved) -> String {
        let package = name.split(separator: "/", omittingEmptySubsequences: false)
            .map { URLEncoding.encode($0, keeping: keeping.union("@")) }
            .joined(separator: "/")
        let file = URLEncoding.encode(basename(name), keeping: keeping) + "-" + URLEncoding.encode(version, keeping: keeping) + ".tgz"
        return "/" + package + "/-/" + file
    }
}
