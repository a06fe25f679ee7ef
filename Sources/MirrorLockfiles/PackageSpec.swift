import NPMNames

/// The small pieces of npm's naming rules that every reader shares: is this a name, is this a
/// version, is this URL the registry tarball of that name and version, is this a git spec.
enum PackageSpec {
    /// Longer versions are not versions anyone published.
    static let maximumVersionLength = 256

    /// Whether `version` is an exact semantic version: `1.2.3`, `1.2.3-beta.1`, `1.2.3+build`.
    static func isExactVersion(_ version: String) -> Bool {
        guard !version.isEmpty, version.utf8.count <= maximumVersionLength else { return false }
        var rest = Substring(version)
        var build: Substring?
        if let plus = rest.firstIndex(of: "+") {
            build = rest[rest.index(after: plus)...]
            rest = rest[..<plus]
        }
        var prerelease: Substring?
        if let dash = rest.firstIndex(of: "-") {
            prerelease = rest[rest.index(after: dash)...]
            rest = rest[..<dash]
        }
        let core = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard core.count == 3, core.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(isDigit) }) else { return false }
        for extra in [prerelease, build].compactMap({ $0 }) {
            let identifiers = extra.split(separator: ".", omittingEmptySubsequences: false)
            guard identifiers.allSatisfy({ !$0.isEmpty && $0.utf8.allSatisfy(isIdentifierByte) }) else { return false }
        }
        return true
    }

    private static func isDigit(_ byte: UInt8) -> Bool { byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9") }

    private static func isIdentifierByte(_ byte: UInt8) -> Bool {
        isDigit(byte) || (byte | 0x20 >= UInt8(ascii: "a") && byte | 0x20 <= UInt8(ascii: "z")) || byte == UInt8(ascii: "-")
    }

    /// Splits `name@rest` where `name` may be scoped (`@scope/name@rest`): the `@` that ends the
    /// name is the first one after the first character. Nil when there is no such `@`.
    static func splitNameAndRest(_ spec: Substring) -> (name: Substring, rest: Substring)? {
        guard let first = spec.first else { return nil }
        let searchStart = first == "@" ? spec.index(after: spec.startIndex) : spec.startIndex
        guard let at = spec[searchStart...].firstIndex(of: "@"), at != spec.startIndex else { return nil }
        return (spec[..<at], spec[spec.index(after: at)...])
    }

    /// Whether `url` is the registry tarball of `name@version`: an http(s) URL whose path ends in
    /// `/<name>/-/<basename>-<version>.tgz` (the scope's `/` may be written `%2f`), whatever the host
    /// and path prefix, ignoring a `?query` and `#fragment`.
    static func isRegistryTarball(_ url: String, name: String, version: String) -> Bool {
        guard url.hasPrefix("https://") || url.hasPrefix("http://") else { return false }
        var path = Substring(url)
        if let hash = path.firstIndex(of: "#") { path = path[..<hash] }
        if let query = path.firstIndex(of: "?") { path = path[..<query] }
        guard let decoded = URLEncoding.decoded(path) else { return false }
        let basename = name.split(separator: "/").last.map(String.init) ?? name
        return decoded.hasSuffix("/\(name)/-/\(basename)-\(version).tgz")
    }

    /// Whether `spec` names a git repository or a git host's archive: `git+…`, `git://`, `git@…`,
    /// `ssh://`, the `github:`/`gitlab:`/`bitbucket:`/`gist:` shorthands, Yarn Berry's `#commit=`,
    /// and tarballs of codeload.github.com, github.com `/tarball/` or `/archive/`, gitlab
    /// `/-/archive/` and bitbucket `/get/`.
    static func isGit(_ spec: String) -> Bool {
        let lower = spec.lowercased()
        for prefix in ["git+", "git://", "git@", "ssh://", "github:", "gitlab:", "bitbucket:", "gist:"]
        where lower.hasPrefix(prefix) {
            return true
        }
        if lower.contains("#commit=") { return true }
        guard lower.hasPrefix("https://") || lower.hasPrefix("http://") else { return false }
        let afterScheme = lower.drop(while: { $0 != "/" }).dropFirst(2)
        let host = afterScheme.prefix(while: { $0 != "/" && $0 != "?" && $0 != "#" })
        let path = afterScheme.dropFirst(host.count)
        switch host {
        case "codeload.github.com": return true
        case "github.com", "www.github.com":
            return path.contains("/tarball/") || path.contains("/archive/") || path.hasSuffix(".git")
                || path.contains(".git#")
        case "gitlab.com": return path.contains("/-/archive/") || path.contains("/repository/archive") || path.hasSuffix(".git")
        case "bitbucket.org": return path.contains("/get/") || path.hasSuffix(".git")
        default: return path.hasSuffix(".git") || path.contains(".git#")
        }
    }

    /// The source of a package from its `resolved` URL or path: `file:` → file, git specs → git,
    /// the registry tarball of `name@version` → registry, another http(s) URL → remote tarball.
    static func source(ofResolved resolved: String, name: String, version: String?) -> LockfileEntry.Source {
        if resolved.hasPrefix("file:") { return .file(String(resolved.dropFirst(5))) }
        if isGit(resolved) { return .git(resolved) }
        if resolved.hasPrefix("https://") || resolved.hasPrefix("http://") {
            if let version, isRegistryTarball(resolved, name: name, version: version) { return .registry }
            return .remoteTarball(resolved)
        }
        return .other("unrecognised resolution \(LockfileError.displayable(resolved))")
    }
}

extension LockfileEntry {
    /// The entry with its names and, for a registry entry, its version checked: a hostile name
    /// (`../x`, empty, control characters, too long) or a registry version that is not an exact
    /// version turns the source into ``Source/other(_:)`` saying so, so nothing downstream uses
    /// it as a path or URL.
    func validated() -> LockfileEntry {
        var entry = self
        if let problem = PackageName.problem(with: name) {
            entry.source = .other("invalid package name \"\(LockfileError.displayable(name, limit: 80))\": \(LockfileError.displayable(problem, limit: 200))")
        } else if let alias, let problem = PackageName.problem(with: alias) {
            entry.source = .other("invalid package name \"\(LockfileError.displayable(alias, limit: 80))\": \(LockfileError.displayable(problem, limit: 200))")
        } else if source == .registry {
            if let version, !PackageSpec.isExactVersion(version) {
                entry.source = .other("invalid version \"\(LockfileError.displayable(version, limit: 80))\"")
            } else if version == nil {
                entry.source = .other("a registry package without a version")
            }
        }
        return entry
    }
}
