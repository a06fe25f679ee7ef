import Foundation
/// What kind of thing a dependency's spec names, the way npm reads it (npm-package-arg): an alias
/// (`npm:name@spec`), a workspace (`workspace:`), a file (`file:` a tarball) or a directory (`file:`
/// or a path), git (`git+…`, `git://`, `github:` and the other hosts' shortcuts, `user/repo`), a
/// remote tarball (`http(s)://`), an exact version, a range, a dist-tag, or none of these (invalid).
public struct DependencySpec: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable {
        case range, tag, version, git, remote, alias, file, directory, workspace, invalid
    }

    public var kind: Kind
    /// For an alias, the package it stands for.
    public var aliasTarget: String?

    public static func classify(_ spec: String) -> DependencySpec {
        let trimmed = spec.trimmingSpaces
        let lower = trimmed.lowercased()
        if lower.hasPrefix("npm:") {
            let rest = String(trimmed.dropFirst(4))
            // `@scope/name@range` or `name@range`: the name ends at the `@` after its first character.
            let at = rest.dropFirst().firstIndex(of: "@")
            let target = at.map { String(rest[..<$0]) } ?? rest
            guard !target.isEmpty, isPackageName(target) else { return DependencySpec(kind: .invalid) }
            if let at, case .invalid = classify(String(rest[rest.index(after: at)...])).kind { return DependencySpec(kind: .invalid, aliasTarget: target) }
            return DependencySpec(kind: .alias, aliasTarget: target)
        }
        if lower.hasPrefix("workspace:") { return DependencySpec(kind: .workspace) }
        if lower.hasPrefix("file:") {
            return DependencySpec(kind: isTarballPath(lower) ? .file : .directory)
        }
        if lower.hasPrefix("./") || lower.hasPrefix("../") || lower.hasPrefix("/") || lower.hasPrefix("~/") || lower == "." || lower == ".." {
            return DependencySpec(kind: isTarballPath(lower) ? .file : .directory)
        }
        for prefix in ["git+", "git://", "github:", "gitlab:", "bitbucket:", "gist:"] where lower.hasPrefix(prefix) {
            return DependencySpec(kind: .git)
        }
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") {
            // A hosted repository's address (or any ending in `.git`) is git; anything else a tarball.
            let path = lower.split(separator: "#").first.map(String.init) ?? lower
            if path.hasSuffix(".git") { return DependencySpec(kind: .git) }
            return DependencySpec(kind: .remote)
        }
        if isGitHubShortcut(trimmed) { return DependencySpec(kind: .git) }
        if Semver.parse(trimmed) != nil { return DependencySpec(kind: .version) }
        if SemverRange.isValid(trimmed) { return DependencySpec(kind: .range) }
        if isTagName(trimmed) { return DependencySpec(kind: .tag) }
        return DependencySpec(kind: .invalid)
    }

    init(kind: Kind, aliasTarget: String? = nil) {
        self.kind = kind
        self.aliasTarget = aliasTarget
    }

    private static func isTarballPath(_ path: String) -> Bool {
        path.hasSuffix(".tgz") || path.hasSuffix(".tar.gz") || path.hasSuffix(".tar")
    }

    /// `user/repo` or `user/repo#committish`, as npm reads a bare GitHub shortcut.
    private static func isGitHubShortcut(_ spec: String) -> Bool {
        let path = spec.split(separator: "#", maxSplits: 1).first.map(String.init) ?? spec
        let parts = path.split(separator: "/", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, !path.hasPrefix("@") else { return false }
        return parts.allSatisfy { part in part.utf8.allSatisfy { isNameByte($0) } }
    }

    /// A dist-tag npm would accept: URL-safe, and not something that reads as a range.
    private static func isTagName(_ spec: String) -> Bool {
        !spec.isEmpty && spec.utf8.count <= 214 && spec.utf8.allSatisfy { isNameByte($0) || $0 == UInt8(ascii: "+") }
            && !(spec.first?.isNumber ?? false)
    }

    static func isPackageName(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 214 else { return false }
        let parts = name.split(separator: "/", omittingEmptySubsequences: false)
        if name.hasPrefix("@") {
            guard parts.count == 2, parts[0].count > 1, !parts[1].isEmpty else { return false }
            return parts[0].dropFirst().utf8.allSatisfy(isNameByte) && parts[1].utf8.allSatisfy(isNameByte)
        }
        return parts.count == 1 && name.utf8.allSatisfy(isNameByte)
    }

    private static func isNameByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
            UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"), UInt8(ascii: "!"), UInt8(ascii: "*"), UInt8(ascii: "'"),
            UInt8(ascii: "("), UInt8(ascii: ")"):
            true
        default:
            false
        }
    }
}

/// A semver 2.0 version (npm's loose reading: an optional leading `v` or `=`).
public struct Semver: Sendable, Equatable {
    public var major: Int64
    public var minor: Int64
    public var patch: Int64
    public var prerelease: String?

    public static func parse(_ text: String) -> Semver? {
        var rest = Substring(text.trimmingSpaces)
        if rest.hasPrefix("=") { rest = rest.dropFirst() }
        if rest.hasPrefix("v") || rest.hasPrefix("V") { rest = rest.dropFirst() }
        if let plus = rest.firstIndex(of: "+") {
            let build = rest[rest.index(after: plus)...]
            guard isIdentifiers(build, numericRule: false) else { return nil }
            rest = rest[..<plus]
        }
        var prerelease: String?
        if let dash = rest.firstIndex(of: "-") {
            let pre = rest[rest.index(after: dash)...]
            guard isIdentifiers(pre, numericRule: true) else { return nil }
            prerelease = String(pre)
            rest = rest[..<dash]
        }
        let numbers = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard numbers.count == 3 else { return nil }
        var values: [Int64] = []
        for number in numbers {
            guard !number.isEmpty, number.count <= 16, number.allSatisfy(\.isASCIIDigit), number == "0" || !number.hasPrefix("0"), let value = Int64(number) else { return nil }
            values.append(value)
        }
        return Semver(major: values[0], minor: values[1], patch: values[2], prerelease: prerelease)
    }

    /// Dot-separated identifiers of `[0-9A-Za-z-]`; with `numericRule`, numeric ones have no leading zero.
    private static func isIdentifiers(_ text: Substring, numericRule: Bool) -> Bool {
        let identifiers = text.split(separator: ".", omittingEmptySubsequences: false)
        return !identifiers.isEmpty && identifiers.allSatisfy { identifier in
            guard !identifier.isEmpty, identifier.allSatisfy({ $0.isASCIIDigit || $0.isASCIILetter || $0 == "-" }) else { return false }
            return !numericRule || !identifier.allSatisfy(\.isASCIIDigit) || identifier == "0" || !identifier.hasPrefix("0")
        }
    }
}

/// Whether a text is a semver range as npm's `semver` reads it: sets joined by `||`, each a hyphen
/// range (`1.2 - 2`) or comparators separated by spaces (`>=1.2.3 <2`, `~1.2`, `^0.3`, `1.x`, `*`, ``).
enum SemverRange {
    static func isValid(_ text: String) -> Bool {
        let sets = text.components(separatedBy: "||")
        return sets.allSatisfy { set in
            let words = set.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
            if words.count == 3, words[1] == "-" { return isPartial(words[0]) && isPartial(words[2]) }
            // An operator may stand apart from its version (`>= 1.2.3`).
            var index = 0
            while index < words.count {
                var word = words[index]
                if ["<", ">", "<=", ">=", "=", "~", "^", "~>"].contains(word), index + 1 < words.count {
                    word += words[index + 1]
                    index += 1
                }
                guard isComparator(word) else { return false }
                index += 1
            }
            return true
        }
    }

    private static func isComparator(_ word: String) -> Bool {
        var rest = Substring(word)
        for op in ["<=", ">=", "~>", "<", ">", "=", "~", "^"] where rest.hasPrefix(op) {
            rest = rest.dropFirst(op.count)
            break
        }
        return isPartial(String(rest))
    }

    /// `*`, `x`, `1`, `1.2`, `1.x`, `1.2.3`, `1.2.3-pre+build`, with npm's optional `v`/`=`.
    private static func isPartial(_ text: String) -> Bool {
        var rest = Substring(text)
        if rest.hasPrefix("=") { rest = rest.dropFirst() }
        if rest.hasPrefix("v") || rest.hasPrefix("V") { rest = rest.dropFirst() }
        guard !rest.isEmpty else { return false }
        if Semver.parse(String(rest)) != nil { return true }
        let parts = rest.split(separator: ".", omittingEmptySubsequences: false)
        guard (1...3).contains(parts.count) else { return false }
        return parts.allSatisfy { part in
            part == "x" || part == "X" || part == "*" || (!part.isEmpty && part.count <= 16 && part.allSatisfy(\.isASCIIDigit))
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
    var isASCIILetter: Bool { isASCII && isLetter }
}

extension String {
    var trimmingSpaces: String {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text = text.dropFirst() }
        while let last = text.last, last == " " || last == "\t" { text = text.dropLast() }
        return String(text)
    }
}
