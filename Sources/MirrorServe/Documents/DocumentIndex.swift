import MirrorRecords

/// What the server needs to know about a derived document without reading it: where each version's
/// object is in the full document (for `GET /{name}/{version}`), the served `dist-tags`, and the
/// few fields a search result shows. Kept on disk beside the documents as a small JSON file.
struct DocumentIndex: Sendable, Equatable {
    var name: String
    var distTags: [String: String]
    /// Byte range of each served version's object in the full document.
    var versionRanges: [String: Range<Int>]
    /// The search result's `package` object (without `links`, which depend on the base URL).
    var summary: [String: JSONValue]

    init(name: String, distTags: [String: String], versionRanges: [String: Range<Int>], summary: [String: JSONValue]) {
        self.name = name
        self.distTags = distTags
        self.versionRanges = versionRanges
        self.summary = summary
    }

    init(layout: PackumentLayout, bytes: UnsafeRawBufferPointer, name: String, distTags: [(tag: String, version: String)], versionRanges: [String: Range<Int>]) {
        func value(_ member: RawMember?) -> JSONValue? {
            guard let member else { return nil }
            return try? JSONValue(parsing: UnsafeRawBufferPointer(rebasing: bytes[member.value]))
        }
        let tags = Dictionary(distTags.map { ($0.tag, $0.version) }, uniquingKeysWith: { _, last in last })
        let latest = tags["latest"] ?? SemanticVersion.fallback(among: versionRanges.keys)
        let latestLayout = latest.flatMap { version in layout.versions.last { $0.key == version } }
        func latestValue(_ key: String) -> JSONValue? {
            value(latestLayout?.members.last { $0.key == key })
        }
        var summary: [String: JSONValue] = ["name": .string(name)]
        if name.hasPrefix("@"), let slash = name.firstIndex(of: "/") {
            summary["scope"] = .string(String(name[name.index(after: name.startIndex)..<slash]))
        } else {
            summary["scope"] = "unscoped"
        }
        if let latest { summary["version"] = .string(latest) }
        if let description = (value(layout.member("description")) ?? latestValue("description"))?.stringValue {
            summary["description"] = .string(description)
        }
        if let keywords = (value(layout.member("keywords")) ?? latestValue("keywords"))?.arrayValue {
            summary["keywords"] = .array(keywords.filter { $0.stringValue != nil })
        }
        let date = latest.flatMap { version in value(layout.time.last { $0.key == version }) } ?? value(layout.time.last { $0.key == "modified" })
        if let date = date?.stringValue { summary["date"] = .string(date) }
        func person(_ value: JSONValue) -> JSONValue? {
            if let name = value["name"]?.stringValue {
                var person: [String: JSONValue] = ["username": .string(name)]
                if let email = value["email"]?.stringValue { person["email"] = .string(email) }
                return .object(person)
            }
            return value.stringValue.map { .object(["username": .string($0)]) }
        }
        let maintainers = (value(layout.member("maintainers"))?.arrayValue ?? []).compactMap(person)
        summary["maintainers"] = .array(maintainers)
        if let publisher = latestValue("_npmUser").flatMap(person) ?? maintainers.first {
            summary["publisher"] = publisher
        }
        var links: [String: JSONValue] = [:]
        if let homepage = (value(layout.member("homepage")) ?? latestValue("homepage"))?.stringValue { links["homepage"] = .string(homepage) }
        let repository = value(layout.member("repository")) ?? latestValue("repository")
        if let url = repository?["url"]?.stringValue ?? repository?.stringValue { links["repository"] = .string(url) }
        let bugs = value(layout.member("bugs")) ?? latestValue("bugs")
        if let url = bugs?["url"]?.stringValue ?? bugs?.stringValue { links["bugs"] = .string(url) }
        summary["links"] = .object(links)
        self.init(name: name, distTags: tags, versionRanges: versionRanges, summary: summary)
    }

    /// The version a `/{name}/{version-or-tag}` request means: a served version, or a dist-tag's.
    func version(for versionOrTag: String) -> String? {
        if versionRanges[versionOrTag] != nil { return versionOrTag }
        if let tagged = distTags[versionOrTag], versionRanges[tagged] != nil { return tagged }
        return nil
    }

    // MARK: On disk

    var json: JSONValue {
        .object([
            "name": .string(name),
            "dist-tags": .object(distTags.mapValues(JSONValue.string)),
            "versions": .object(versionRanges.mapValues { .array([.number(Double($0.lowerBound)), .number(Double($0.count))]) }),
            "summary": .object(summary),
        ])
    }

    init?(json: JSONValue) {
        guard let name = json["name"]?.stringValue, let tags = json["dist-tags"]?.objectValue,
            let versions = json["versions"]?.objectValue, let summary = json["summary"]?.objectValue
        else { return nil }
        var ranges: [String: Range<Int>] = [:]
        for (version, range) in versions {
            guard let pair = range.arrayValue, pair.count == 2, let start = pair[0].intValue, let count = pair[1].intValue, start >= 0, count >= 0 else {
                return nil
            }
            ranges[version] = start..<start + count
        }
        self.init(name: name, distTags: tags.compactMapValues(\.stringValue), versionRanges: ranges, summary: summary)
    }
}
