/// A semantic version (`1.2.3`, `1.2.3-beta.1`, `1.2.3+build`), ordered by semver 2.0's precedence:
/// enough to pick "the highest held stable version" when a dist-tag points at a version the mirror
/// does not hold. Build metadata is ignored in comparisons.
struct SemanticVersion: Comparable, Sendable {
    let major: Int
    let minor: Int
    let patch: Int
    /// Dot-separated prerelease identifiers; empty for a stable version.
    let prerelease: [Substring]

    var isStable: Bool { prerelease.isEmpty }

    /// Parses `text` (a leading `v` or `=` is tolerated, as npm does). Nil when it is not a version.
    init?(_ text: String) {
        var text = Substring(text)
        if text.first == "v" || text.first == "=" { text = text.dropFirst() }
        if let plus = text.firstIndex(of: "+") { text = text[..<plus] }
        var prerelease: [Substring] = []
        if let dash = text.firstIndex(of: "-") {
            prerelease = text[text.index(after: dash)...].split(separator: ".", omittingEmptySubsequences: false)
            guard !prerelease.isEmpty, prerelease.allSatisfy({ !$0.isEmpty }) else { return nil }
            text = text[..<dash]
        }
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let major = Int(parts[0]), let minor = Int(parts[1]), let patch = Int(parts[2]),
            major >= 0, minor >= 0, patch >= 0
        else { return nil }
        self.major = major
        self.minor = minor
        self.patch = patch
        self.prerelease = prerelease
    }

    static func < (a: SemanticVersion, b: SemanticVersion) -> Bool {
        if (a.major, a.minor, a.patch) != (b.major, b.minor, b.patch) {
            return (a.major, a.minor, a.patch) < (b.major, b.minor, b.patch)
        }
        // A prerelease sorts before its release.
        if a.prerelease.isEmpty || b.prerelease.isEmpty { return !a.prerelease.isEmpty && b.prerelease.isEmpty }
        for (x, y) in zip(a.prerelease, b.prerelease) where x != y {
            switch (Int(x), Int(y)) {
            case let (.some(m), .some(n)): return m < n
            case (.some, .none): return true  // numeric identifiers sort before alphanumeric ones
            case (.none, .some): return false
            case (.none, .none): return x < y
            }
        }
        return a.prerelease.count < b.prerelease.count
    }

    static func == (a: SemanticVersion, b: SemanticVersion) -> Bool {
        (a.major, a.minor, a.patch) == (b.major, b.minor, b.patch) && a.prerelease == b.prerelease
    }

    /// The version a dist-tag falls back to when its own is not held: the highest stable version of
    /// `versions`; when none is stable, the highest prerelease; nil when `versions` has no version.
    static func fallback(among versions: some Sequence<String>) -> String? {
        let parsed = versions.compactMap { text in SemanticVersion(text).map { (text, $0) } }
        let stable = parsed.filter { $0.1.isStable }
        let pool = stable.isEmpty ? parsed : stable
        return pool.max { $0.1 < $1.1 }?.0
    }
}
