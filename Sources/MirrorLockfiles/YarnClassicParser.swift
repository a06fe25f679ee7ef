/// The text format of Yarn 1's `yarn.lock`: not YAML, but an indented tree of
///
///     "@babel/code-frame@^7.0.0", "@babel/code-frame@^7.10.4":
///       version "7.12.13"
///       resolved "https://registry.yarnpkg.com/@babel/code-frame/-/code-frame-7.12.13.tgz#…"
///       dependencies:
///         "@babel/highlight" "^7.12.13"
///
/// A line is either `key value` (a field) or `key, key…:` (a block whose fields are indented
/// below it). Keys and values are quoted (JSON escapes) or bare words; `#` starts a comment at the
/// start of a token; CRLF line ends are accepted. The parser is line based, without recursion, and
/// bounds the nesting depth.
struct YarnClassicParser {
    /// One block: its keys (one or more) and the fields and blocks indented below it.
    struct Block {
        var keys: [String]
        var line: Int
        var fields: [(key: String, value: String, line: Int)] = []
        var blocks: [Block] = []

        /// The first field named `key`.
        func field(_ key: String) -> String? {
            fields.first(where: { $0.key == key })?.value
        }
    }

    /// The deepest nesting read (real files use three levels).
    static let maximumDepth = 32

    var context: ReadContext

    /// The top-level blocks of `text`.
    func parse(_ text: String) throws -> [Block] {
        // The stack of open blocks: the root first, with the indentation of its fields.
        var stack: [(block: Block, indent: Int?)] = [(Block(keys: [], line: 0), 0)]
        var lineNumber = 0
        // Split on scalars: in a String, "\r\n" is one Character and would not split on "\n".
        for rawLine in text.unicodeScalars.split(separator: "\n", omittingEmptySubsequences: false) {
            lineNumber += 1
            var scalars = rawLine
            if scalars.last == "\r" { scalars = scalars.dropLast() }
            let line = Substring(scalars)
            let indentText = line.prefix(while: { $0 == " " || $0 == "\t" })
            let content = line.dropFirst(indentText.count)
            if content.isEmpty || content.hasPrefix("#") { continue }
            if indentText.contains("\t") {
                throw context.malformed("tabs are not allowed in indentation", line: lineNumber)
            }
            for marker in ["<<<<<<<", "=======", ">>>>>>>"] where content.hasPrefix(marker) {
                throw context.malformed("a merge conflict marker: resolve the conflict first", line: lineNumber)
            }
            let indent = indentText.count
            let tokens = try tokenize(content, line: lineNumber)

            // Close the blocks this line is not inside of: those whose fields are indented deeper,
            // and a block with no fields yet when the line is not indented past the block's own line.
            while stack.count > 1 {
                let openerIndent = stack[stack.count - 2].indent ?? 0
                if let fieldIndent = stack[stack.count - 1].indent {
                    guard indent < fieldIndent else { break }
                } else {
                    guard indent <= openerIndent else { break }
                }
                closeTop(&stack)
            }
            if let fieldIndent = stack[stack.count - 1].indent {
                guard indent == fieldIndent else {
                    throw context.malformed("inconsistent indentation (\(indent) spaces, expected \(fieldIndent))", line: lineNumber)
                }
            } else {
                stack[stack.count - 1].indent = indent
            }

            switch classify(tokens) {
            case .field(let key, let value):
                guard stack.count > 1 else {
                    throw context.malformed("a field outside any entry (expected `descriptor:`)", line: lineNumber)
                }
                stack[stack.count - 1].block.fields.append((key, value, lineNumber))
            case .block(let keys):
                guard stack.count <= Self.maximumDepth else {
                    throw context.malformed("nested deeper than \(Self.maximumDepth) levels", line: lineNumber)
                }
                stack.append((Block(keys: keys, line: lineNumber), nil))
            case nil:
                throw context.malformed("expected `key value` or `key:`", line: lineNumber)
            }
        }
        while stack.count > 1 { closeTop(&stack) }
        return stack[0].block.blocks
    }

    private func closeTop(_ stack: inout [(block: Block, indent: Int?)]) {
        let closed = stack.removeLast().block
        stack[stack.count - 1].block.blocks.append(closed)
    }

    // MARK: - Lines

    private enum Token: Equatable {
        case string(String)
        case colon
        case comma
    }

    private enum LineShape {
        case field(key: String, value: String)
        case block(keys: [String])
    }

    /// `key value`, `key: value` or `key, key…:`.
    private func classify(_ tokens: [Token]) -> LineShape? {
        switch tokens.count {
        case 2:
            if case .string(let key) = tokens[0], case .string(let value) = tokens[1] { return .field(key: key, value: value) }
            if case .string(let key) = tokens[0], tokens[1] == .colon { return .block(keys: [key]) }
        case 3:
            if case .string(let key) = tokens[0], tokens[1] == .colon, case .string(let value) = tokens[2] {
                return .field(key: key, value: value)
            }
        default:
            break
        }
        // key (, key)* :
        guard tokens.count >= 2, tokens.count % 2 == 0, tokens.last == .colon else { return nil }
        var keys: [String] = []
        for (index, token) in tokens.dropLast().enumerated() {
            switch (index % 2, token) {
            case (0, .string(let key)): keys.append(key)
            case (1, .comma): continue
            default: return nil
            }
        }
        return .block(keys: keys)
    }

    /// The tokens of one line's content (without indentation).
    private func tokenize(_ content: Substring, line: Int) throws -> [Token] {
        var tokens: [Token] = []
        var rest = content.unicodeScalars[...]
        while let first = rest.first {
            switch first {
            case " ", "\t":
                rest = rest.dropFirst()
            case "#":
                return tokens
            case ":":
                tokens.append(.colon)
                rest = rest.dropFirst()
            case ",":
                tokens.append(.comma)
                rest = rest.dropFirst()
            case "\"":
                let (string, after) = try quoted(rest.dropFirst(), line: line)
                tokens.append(.string(string))
                rest = after
            default:
                let word = rest.prefix(while: { $0 != " " && $0 != "\t" && $0 != ":" && $0 != "," })
                tokens.append(.string(String(String.UnicodeScalarView(word))))
                rest = rest.dropFirst(word.count)
            }
        }
        return tokens
    }

    /// A JSON-style quoted string whose opening quote is already consumed; returns the text and
    /// what follows the closing quote.
    private func quoted(_ input: Substring.UnicodeScalarView.SubSequence, line: Int) throws
        -> (String, Substring.UnicodeScalarView.SubSequence)
    {
        var result = String.UnicodeScalarView()
        var rest = input
        while let scalar = rest.popFirst() {
            switch scalar {
            case "\"":
                return (String(result), rest)
            case "\\":
                guard let escaped = rest.popFirst() else { break }
                switch escaped {
                case "\"", "\\", "/": result.append(escaped)
                case "n": result.append("\n")
                case "t": result.append("\t")
                case "r": result.append("\r")
                case "b": result.append("\u{8}")
                case "f": result.append("\u{C}")
                case "u":
                    let hex = rest.prefix(4)
                    guard hex.count == 4, let value = UInt32(String(String.UnicodeScalarView(hex)), radix: 16),
                        let decoded = Unicode.Scalar(value)
                    else {
                        throw context.malformed("a bad \\u escape in a quoted string", line: line)
                    }
                    result.append(decoded)
                    rest = rest.dropFirst(4)
                default:
                    throw context.malformed("an unknown escape \\\(escaped) in a quoted string", line: line)
                }
            default:
                result.append(scalar)
            }
        }
        throw context.malformed("a quoted string is not closed", line: line)
    }
}
