import Foundation
import NPMNames

/// The pages' own paths, and the check every stranger's URL passes before it becomes a link.
public enum WebLinks {
    public static let root = "/-/web/"
    public static let stylesheet = "/-/web/style.css"
    public static let search = "/-/web/search"

    /// `/-/web/package/<name>` (scoped: `/-/web/package/@scope/name`), each part escaped.
    public static func package(_ name: String) -> String {
        root + "package/" + PackageName.urlPath(name)
    }

    /// `/-/web/package/<name>/v/<version>`.
    public static func version(_ name: String, _ version: String) -> String {
        package(name) + "/v/" + URLEncoding.encode(version, keeping: .packageName)
    }

    /// A URL from a package's metadata (homepage, repository), when it is `http(s)`; `git+https://` and
    /// `git://github.com/…` spellings are read as the https page they name. Anything else: nil.
    public static func external(_ url: String?) -> String? {
        guard var text = url?.trimmingCharacters(in: .whitespaces), !text.isEmpty else { return nil }
        if text.hasPrefix("git+") { text.removeFirst(4) }
        if text.hasPrefix("git://") { text = "https://" + text.dropFirst(6) }
        if text.hasSuffix(".git") { text.removeLast(4) }
        let lowered = text.lowercased()
        guard lowered.hasPrefix("https://") || lowered.hasPrefix("http://"),
            !text.unicodeScalars.contains(where: { $0.value < 0x21 || $0 == "\"" || $0 == "<" || $0 == ">" || $0 == "\\" })
        else { return nil }
        return text
    }
}

