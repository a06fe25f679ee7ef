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

    private static let lessThan: Character = "\u{E000}"
    private static let quote: Character = "\u{E001}"

    public static func render(_ markdown: String) -> (html: String, truncated: Bool) {
        let truncated = markdown.utf8.count > maximumBytes
        let text = truncated ? String(decoding: Array(markdown.utf8.prefix(maximumBytes)), as: UTF8.self) : markdown
        var input = ""
        input.reserveCapacity(text.utf8.count)
        for character in text {
            switch character {
            case "<": input.append(lessThan)
            case "\"": input.append(quote)
            case lessThan, quote: continue  // never let the input hold the stand-ins
            case "\r\n", "\r": input.append("\n")
            default: input.append(character)
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
        return (html, truncated)
    }

    /// A link target the page may point at: `http(s)://…`, a path or a fragment (no other scheme).
    public static func isSafeTarget(_ url: some StringProtocol) -> Bool {
        let lowered = url.lowercased()
        if lowered.hasPrefix("https://") || lowered.hasPrefix("http://") { return true }
        if lowered.hasPrefix("//") { return false }
        // Relative: no scheme before the first '/', '?' or '#', and no character reference that a
        // browser would turn into one (`javascript&#58;…`).
        let head = lowered.prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        return !head.contains(":") && !head.contains("&") && !head.contains(lessThan) && !head.contains(quote)
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

    /// `<img src="URL" alt="…"/>` as Ink wrote it: kept when URL is safe, else nothing.
    private static func safeImage(_ html: String) -> String {
        let prefix = "<img src=\""
        guard html.hasPrefix(prefix), let end = html[html.index(html.startIndex, offsetBy: prefix.count)...].firstIndex(of: "\"") else { return "" }
        return isSafeTarget(html[html.index(html.startIndex, offsetBy: prefix.count)..<end]) ? html : ""
    }
}
