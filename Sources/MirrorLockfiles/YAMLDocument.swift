import Yams

/// The YAML of pnpm and Yarn Berry lockfiles, loaded with Yams after a check that it has no anchors
/// or aliases.
///
/// Neither tool writes anchors (`&a`) or aliases (`*a`). Refusing them up front keeps a "billion
/// laughs" file from costing anything: Yams shares an aliased node rather than copying it, but it
/// hashes mapping keys to find duplicates, and hashing an alias-built key walks its whole expansion.
/// libyaml itself bounds nesting at 1000 levels.
enum YAMLDocument {
    /// The root node of `text`, a single document.
    static func load(_ text: String, context: ReadContext) throws -> Node {
        if let line = firstAnchorOrAliasLine(text) {
            throw LockfileError(
                .yamlAnchors, file: context.file, line: line,
                "YAML anchors and aliases (& and *) are not used in lockfiles and are refused")
        }
        let root: Node?
        do {
            root = try Parser(yaml: text).singleRoot()
        } catch let error as YamlError {
            throw context.malformed("not valid YAML: \(describe(error))", line: line(of: error))
        }
        guard let root else { throw context.invalid("the YAML document is empty") }
        return root
    }

    /// The 1-based line of the first anchor or alias indicator, or nil when there is none.
    ///
    /// A small lexer: it skips quoted scalars (`'…'` with `''`, `"…"` with `\` escapes, across
    /// lines) and comments, and looks at the first character of each node, which starts a line
    /// (after indentation), or follows `- `, `? `, `: `, `[`, `{` or `,`. Inside a plain scalar an
    /// `&` or `*` is ordinary text (`a*b`, `1.x || *` after other text) and is not flagged. Block
    /// scalars (`|`, `>`) are not understood, and lockfiles do not use them: a line of one starting
    /// with `*` or `&` would be flagged, which errs on the side of refusing.
    static func firstAnchorOrAliasLine(_ text: String) -> Int? {
        var line = 1
        var atNodeStart = true
        var previousWasSpace = true
        var iterator = text.utf8.makeIterator()
        var pending: UInt8?

        func next() -> UInt8? {
            if let byte = pending {
                pending = nil
                return byte
            }
            return iterator.next()
        }

        while let byte = next() {
            switch byte {
            case UInt8(ascii: "\n"):
                line += 1
                atNodeStart = true
                previousWasSpace = true
                continue
            case UInt8(ascii: " "), UInt8(ascii: "\t"), UInt8(ascii: "\r"):
                previousWasSpace = true
                continue
            default:
                break
            }
            let isNodeStart = atNodeStart
            let followsSpace = previousWasSpace
            atNodeStart = false
            previousWasSpace = false
            switch byte {
            case UInt8(ascii: "&"), UInt8(ascii: "*"):
                if isNodeStart { return line }
            case UInt8(ascii: "#") where followsSpace:
                // A comment runs to the end of the line.
                while let skipped = next(), skipped != UInt8(ascii: "\n") {}
                line += 1
                atNodeStart = true
                previousWasSpace = true
            case UInt8(ascii: "'") where isNodeStart:
                while let quoted = next() {
                    if quoted == UInt8(ascii: "\n") { line += 1 }
                    if quoted == UInt8(ascii: "'") {
                        // '' is an escaped quote inside the scalar.
                        guard let following = next() else { break }
                        if following == UInt8(ascii: "'") { continue }
                        pending = following
                        break
                    }
                }
            case UInt8(ascii: "\"") where isNodeStart:
                while let quoted = next() {
                    if quoted == UInt8(ascii: "\n") { line += 1 }
                    if quoted == UInt8(ascii: "\\") {
                        if next() == UInt8(ascii: "\n") { line += 1 }
                        continue
                    }
                    if quoted == UInt8(ascii: "\"") { break }
                }
            case UInt8(ascii: "-"), UInt8(ascii: "?"), UInt8(ascii: ":"):
                // An indicator when followed by a space or the end of the line; then a node follows.
                if let following = next() {
                    if following == UInt8(ascii: " ") || following == UInt8(ascii: "\t") {
                        if byte != UInt8(ascii: ":") && !isNodeStart {
                            // `a - b` inside a plain scalar: text.
                            previousWasSpace = true
                        } else {
                            atNodeStart = true
                            previousWasSpace = true
                        }
                    } else {
                        pending = following
                    }
                }
            case UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: ","):
                atNodeStart = true
            default:
                break
            }
        }
        return nil
    }

    private static func describe(_ error: YamlError) -> String {
        switch error {
        case .scanner(_, let problem, let mark, _), .parser(_, let problem, let mark, _),
            .composer(_, let problem, let mark, _):
            return "\(problem) at line \(mark.line), column \(mark.column)"
        case .duplicatedKeysInMapping(let duplicates, _):
            return "duplicate keys \(duplicates.prefix(3).map { LockfileError.displayable($0, limit: 60) })"
        default:
            return LockfileError.displayable("\(error)", limit: 300)
        }
    }

    private static func line(of error: YamlError) -> Int? {
        switch error {
        case .scanner(_, _, let mark, _), .parser(_, _, let mark, _), .composer(_, _, let mark, _): mark.line
        case .duplicatedKeysInMapping(_, let context): context.mark.line
        default: nil
        }
    }
}

/// Typed access to the nodes of a lockfile's YAML, throwing ``LockfileError`` naming the place.
struct YAMLAccess {
    var context: ReadContext

    /// The pairs of a mapping with scalar keys, in file order.
    func mapping(_ node: Node, at location: String) throws -> [(key: String, value: Node)] {
        guard case .mapping(let mapping) = node else {
            throw context.invalid("\(location) is not a mapping", line: node.mark?.line)
        }
        return try mapping.map { pair in
            guard case .scalar(let scalar) = pair.key else {
                throw context.invalid("\(location) has a key that is not a string", line: pair.key.mark?.line)
            }
            return (scalar.string, pair.value)
        }
    }

    /// The member `key` of a mapping's pairs, when present.
    func member(_ pairs: [(key: String, value: Node)], _ key: String) -> Node? {
        pairs.first(where: { $0.key == key })?.value
    }

    /// A scalar's text; a null (`~`, `null` or empty) and a missing node are nil.
    func string(_ node: Node?, at location: String) throws -> String? {
        guard let node else { return nil }
        guard case .scalar(let scalar) = node else {
            throw context.invalid("\(location) is not a string", line: node.mark?.line)
        }
        if scalar.style == .plain, ["", "~", "null", "Null", "NULL"].contains(scalar.string) { return nil }
        return scalar.string
    }
}
