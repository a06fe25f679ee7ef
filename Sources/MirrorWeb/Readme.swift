import Foundation
import Ink

/// A package's README as HTML that stays inert, whatever a stranger wrote in it.
///
/// Ink renders Markdown but passes raw HTML through and writes link and image URLs into attributes
/// as they are. So before Ink sees the text, every `<` and `"` is swapped for a private-use
/// character (no raw HTML can form, no attribute can be closed, and Ink's hang on an unclosed `<p`
/// cannot happen), and after it they come back as `&lt;` and `&quot;`: shown as text, never as
/// markup. Links keep only `http(s)`, relative and `#` targets (others become their text); images
/// only the same. The text is cut at ``maximumBytes`` first, so a huge README costs a bounded render.
public enum ReadmeHTML {
    public static let maximumBytes = 256 << 10
    /// Lines longer than this are broken (Ink scans to a line's end for some constructs).
    static let maximumLineLength = 1024
    /// Open `[` that Ink sees, per paragraph: enough for `[![badge](image)](link)`; deeper ones are text
    /// (Ink recurses per open bracket and retries after each failed link: 100,000 `[` overflowed its
    /// stack, 40 made it run for ever).
    static let maximumOpenBrackets = 2

    private static let lessThan: Character = "\u{E000}"
    private static let quote: Character = "\u{E001}"
    private static let bracket: Character = "\u{E002}"
    private static let ampersand: Character = "\u{E003}"
    private static let standIns: Set<Character> = [lessThan, quote, bracket, ampersand]

    public static func render(_ markdown: String) -> (html: String, truncated: Bool) {
        let truncated = markdown.utf8.count > maximumBytes
        let text = truncated ? String(decoding: Array(markdown.utf8.prefix(maximumBytes)), as: UTF8.self) : markdown
        var input = ""
        input.reserveCapacity(text.utf8.count)
        var openBrackets = 0
        var lineLength = 0
        var characters = text[...]
        while let character = characters.popFirst() {
            switch character {
            case "<": input.append(lessThan)
            case "\"": input.append(quote)
            case "&":
                // A character reference stays (Ink passes it through); a bare `&` becomes `&amp;`
                // afterwards (Ink would look for its `;` to the end of the line, for every one).
                input.append(isCharacterReference(characters) ? "&" : ampersand)
            case "[":
                openBrackets += 1
                input.append(openBrackets > maximumOpenBrackets ? bracket : "[")
            case "]":
                openBrackets = max(0, openBrackets - 1)
                input.append("]")
            case "\r\n", "\r", "\n":
                // A paragraph ends at a blank line: its open brackets with it (a single line break
                // does not end what Ink reads as one link's text).
                if input.last == "\n" { openBrackets = 0 }
                input.append("\n")
                lineLength = 0
                continue
            default:
                if standIns.contains(character) { continue }  // never let the input hold the stand-ins
                input.append(character)
            }
            lineLength += 1
            if lineLength >= maximumLineLength {
                // A new paragraph: Ink's scans end there.
                input.append("\n\n")
                openBrackets = 0
                lineLength = 0
            }
        }
        // Ink traps on a list item followed by trailing spaces at the very end of the input.
        while let last = input.last, last.isWhitespace { input.removeLast() }
        let parser = MarkdownParser(modifiers: [
            Modifier(target: .links) { html, _ in safeLink(html) },
            Modifier(target: .images) { html, _ in safeImage(html) },
        ])
        var html = parser.html(from: input)
        html = html.replacingOccurrences(of: String(lessThan), with: "&lt;")
        html = html.replacingOccurrences(of: String(quote), with: "&quot;")
        html = html.replacingOccurrences(of: String(bracket), with: "[")
        html = html.replacingOccurrences(of: String(ampersand), with: "&amp;")
        return (html, truncated)
    }

    /// Whether the text after an `&` is `#?[A-Za-z0-9]{1,32};`.
    private static func isCharacterReference(_ rest: Substring) -> Bool {
        var scalars = rest.unicodeScalars.makeIterator()
        var count = 0
        var first = true
        while let scalar = scalars.next() {
            if scalar == ";" { return count > 0 }
            if first, scalar == "#" { first = false; continue }
            first = false
            guard scalar.isASCII, scalar.properties.isAlphabetic || ("0"..."9").contains(scalar), count < 32 else { return false }
            count += 1
        }
        return false
    }

    /// A link target the page may point at: `http(s)://…`, a path or a fragment (no other scheme).
    /// Judged on Unicode scalars: a combining mark after `:` must not hide it.
    public static func isSafeTarget(_ url: some StringProtocol) -> Bool {
        let lowered = String(url).lowercased()
        if lowered.unicodeScalars.starts(with: "https://".unicodeScalars) || lowered.unicodeScalars.starts(with: "http://".unicodeScalars) {
            return true
        }
        if lowered.unicodeScalars.starts(with: "//".unicodeScalars) { return false }
        // Relative: no scheme before the first '/', '?' or '#', and no character reference that a
        // browser would turn into one (`javascript&#58;…`).
        let head = lowered.unicodeScalars.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        return !head.contains { $0 == ":" || $0 == "&" || standIns.contains(Character($0)) }
    }

    /// `<a href="URL">text</a>` as Ink wrote it: kept (marked `nofollow`) when URL is safe, else the text.
    private static func safeLink(_ html: String) -> String {
        let prefix = "<a href=\""
        guard html.hasPrefix(prefix), let close = html.range(of: "\">"), html.hasSuffix("</a>") else { return "" }
        let url = html[html.index(html.startIndex, offsetBy: prefix.count)..<close.lowerBound]
        let text = html[close.upperBound..<html.index(html.endIndex, offsetBy: -4)]
        guard isSafeTarget(url) else { return String(text) }
        return "<a rel=\"nofollow noopener\" href=\"" + url + "\">" + text + "</a>"
    }

    /// `<img src="URL" alt="…"/>` as Ink wrote it, made again: kept when URL is safe, with an alt
    /// that is text only (Ink writes the alt's own markup into the attribute unescaped), else nothing.
    private static func safeImage(_ html: String) -> String {
        let prefix = "<img src=\""
        guard html.hasPrefix(prefix) else { return "" }
        let rest = html.dropFirst(prefix.count)
        guard let end = rest.firstIndex(of: "\"") else { return "" }
        let url = rest[..<end]
        guard isSafeTarget(url) else { return "" }
        var alt = ""
        if let altStart = html.range(of: " alt=\"") {
            var inTag = false
            for character in html[altStart.upperBound...].dropLast(3) {
                switch character {
                case "<": inTag = true
                case ">": inTag = false
                case "\"": if !inTag { alt += "&quot;" }
                default: if !inTag { alt.append(character) }
                }
            }
        }
        return "<img src=\"" + url + "\" alt=\"" + alt + "\">"
    }
}
