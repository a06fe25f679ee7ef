import MirrorJSON
import MirrorWeb

/// What the web pages show of a packument, derived with the served documents (once per stored
/// revision, as ``PackumentDerivation`` derives them) and kept beside them as `<key>.web.json`: a
/// page then reads a small file and the package record, never the packument (a 95 MB packument
/// costs its pages nothing more than its derivation did).
///
/// Every version is listed, served or not (the page says why not); each with its publish time,
/// deprecation, dependencies, integrity and unpacked size. The README goes to a file of its own
/// (`<key>.readme.md`, cut at ``ReadmeHTML/maximumBytes``), read only when a page renders it.
enum WebSummary {
    /// The summary and the README's Markdown.
    struct Derived: Sendable {
        var summary: JSONValue
        var readme: [UInt8]?
    }

    static func derive(layout: PackumentLayout, bytes: UnsafeRawBufferPointer, served: Set<String>, tags: [(tag: String, version: String)]) -> Derived {
        func value(_ member: RawMember?) -> JSONValue? {
            guard let member else { return nil }
            return try? JSONValue(parsing: UnsafeRawBufferPointer(rebasing: bytes[member.value]))
        }
        let times = Dictionary(layout.time.compactMap { member in value(member)?.stringValue.map { (member.key, $0) } }, uniquingKeysWith: { _, last in last })
        var versions: [JSONValue] = []
        versions.reserveCapacity(layout.versions.count)
        for version in layout.versions {
            var object: [String: JSONValue] = ["version": .string(version.key), "served": .bool(served.contains(version.key))]
            if let time = times[version.key] { object["time"] = .string(time) }
            for member in version.members {
                switch member.key {
                case "deprecated":
                    if let text = value(member)?.stringValue, !text.isEmpty { object["deprecated"] = .string(String(text.prefix(500))) }
                case "dependencies":
                    if case .object(let dependencies)? = value(member) { object["dependencies"] = .object(dependencies.filter { $0.value.stringValue != nil }) }
                case "license":
                    if let text = value(member)?.stringValue { object["license"] = .string(String(text.prefix(200))) }
                default:
                    break
                }
            }
            for member in version.dist ?? [] {
                switch member.key {
                case "integrity": if let text = value(member)?.stringValue { object["integrity"] = .string(text) }
                case "shasum": if let text = value(member)?.stringValue { object["shasum"] = .string(text) }
                case "unpackedSize": if let size = value(member)?.intValue { object["unpacked_size"] = .number(Double(size)) }
                case "fileCount": if let count = value(member)?.intValue { object["file_count"] = .number(Double(count)) }
                default: break
                }
            }
            versions.append(.object(object))
        }
        var summary: [String: JSONValue] = [
            "versions": .array(versions),
            "dist_tags": .array(tags.map { .array([.string($0.tag), .string($0.version)]) }),
        ]
        for key in ["created", "modified"] { if let time = times[key] { summary[key] = .string(time) } }
        for key in ["description", "homepage", "license"] {
            if let text = value(layout.members.last { $0.key == key })?.stringValue { summary[key] = .string(String(text.prefix(2000))) }
        }
        switch value(layout.members.last { $0.key == "repository" }) {
        case .string(let url)?: summary["repository"] = .string(url)
        case .object(let repository)?: if let url = repository["url"]?.stringValue { summary["repository"] = .string(url) }
        default: break
        }
        var readme: [UInt8]?
        if let text = value(layout.members.last { $0.key == "readme" })?.stringValue, !text.isEmpty {
            // One byte past the cut, so the page knows it was cut.
            readme = Array(text.utf8.prefix(ReadmeHTML.maximumBytes + 1))
        }
        return Derived(summary: .object(summary), readme: readme)
    }
}
