import Foundation

/// The parts of a packument (a package's registry document) the mirror reads.
///
/// Parsing is strict about what the pipeline depends on (a JSON object, a `name` equal to the one
/// asked for, `versions`/`time`/`dist-tags` of the right types) and lenient about everything else;
/// a version whose `dist` is unusable is kept out of ``versions`` and listed in ``malformedVersions``.
public struct Packument: Sendable {
    public struct Version: Sendable, Hashable {
        public var version: String
        /// `dist.tarball`.
        public var tarballURL: String?
        /// `dist.shasum` (sha1 hex).
        public var shasum: String?
        /// `dist.integrity` (SRI).
        public var integrity: String?
        /// `dist.size`, when the registry gives it (older documents).
        public var size: Int64?
        /// `dist.unpackedSize`.
        public var unpackedSize: Int64?
        public var dependencies: [String: String]
        /// The author's name (`author` as a string or `author.name`).
        public var author: String?

        public init(
            version: String, tarballURL: String?, shasum: String?, integrity: String?, size: Int64?, unpackedSize: Int64?,
            dependencies: [String: String], author: String?
        ) {
            self.version = version
            self.tarballURL = tarballURL
            self.shasum = shasum
            self.integrity = integrity
            self.size = size
            self.unpackedSize = unpackedSize
            self.dependencies = dependencies
            self.author = author
        }
    }

    public var name: String
    /// `_rev`, e.g. `12-abc…`; nil for documents without one (unpublished stubs may lack it).
    public var rev: String?
    public var distTags: [String: String]
    public var versions: [String: Version]
    /// Versions present but unusable, with a bounded reason.
    public var malformedVersions: [String: String]
    /// `time`: version → ISO 8601 publication time, plus `created` and `modified`.
    public var time: [String: String]
    /// `time.unpublished` is present: the package was unpublished.
    public var isUnpublished: Bool
    /// Maintainer names.
    public var maintainers: [String]

    /// `dist-tags.latest`.
    public var latest: String? { distTags["latest"] }
    public var modified: String? { time["modified"] }

    /// The generation of `_rev` (the number before the dash).
    public var revGeneration: Int? { rev.flatMap(Self.generation(ofRev:)) }

    public static func generation(ofRev rev: String) -> Int? {
        Int(rev.prefix { $0 != "-" })
    }

    /// Parses a packument for `expectedName`.
    public static func parse(_ body: some Collection<UInt8>, expectedName: String) throws(PackumentError) -> Packument {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(body))
        } catch {
            throw PackumentError(field: nil, problem: "not JSON (\((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "parse error"))")
        }
        guard let document = object as? [String: Any] else { throw PackumentError(field: nil, problem: "not a JSON object") }
        var name = try optional(document, "name", as: String.self)
        if name == nil { name = try optional(document, "_id", as: String.self) }
        guard let name else { throw PackumentError(field: "name", problem: "missing") }
        guard name == expectedName else {
            throw PackumentError(field: "name", problem: "is \"\(name.prefix(100))\", not the package asked for")
        }
        let time = try stringMap(document, "time", allowing: ["unpublished"])
        let isUnpublished = document["time"].flatMap { ($0 as? [String: Any])?["unpublished"] } != nil
        var versions: [String: Version] = [:]
        var malformed: [String: String] = [:]
        if let raw = document["versions"] {
            guard let entries = raw as? [String: Any] else { throw PackumentError(field: "versions", problem: "not an object") }
            for (version, value) in entries {
                guard let entry = value as? [String: Any] else {
                    malformed[version] = "not_an_object"
                    continue
                }
                guard let dist = entry["dist"] as? [String: Any] else {
                    malformed[version] = "no_dist"
                    continue
                }
                let integrity = dist["integrity"] as? String
                let shasum = dist["shasum"] as? String
                guard integrity != nil || shasum != nil else {
                    malformed[version] = "no_digest"
                    continue
                }
                let author: String? =
                    switch entry["author"] {
                    case let text as String: text
                    case let object as [String: Any]: object["name"] as? String
                    default: nil
                    }
                versions[version] = Version(
                    version: version,
                    tarballURL: dist["tarball"] as? String,
                    shasum: shasum,
                    integrity: integrity,
                    size: (dist["size"] as? NSNumber)?.int64Value,
                    unpackedSize: (dist["unpackedSize"] as? NSNumber)?.int64Value,
                    dependencies: (entry["dependencies"] as? [String: Any])?.compactMapValues { $0 as? String } ?? [:],
                    author: author
                )
            }
        }
        let maintainers = (document["maintainers"] as? [Any])?.compactMap { item -> String? in
            (item as? [String: Any])?["name"] as? String ?? item as? String
        } ?? []
        return Packument(
            name: name,
            rev: try optional(document, "_rev", as: String.self),
            distTags: try stringMap(document, "dist-tags"),
            versions: versions,
            malformedVersions: malformed,
            time: time,
            isUnpublished: isUnpublished,
            maintainers: maintainers
        )
    }

    private static func optional<T>(_ document: [String: Any], _ key: String, as type: T.Type) throws(PackumentError) -> T? {
        guard let value = document[key], !(value is NSNull) else { return nil }
        guard let typed = value as? T else { throw PackumentError(field: key, problem: "has the wrong type") }
        return typed
    }

    /// An object of strings; keys in `allowing` may hold other values and are left out.
    private static func stringMap(_ document: [String: Any], _ key: String, allowing: Set<String> = []) throws(PackumentError) -> [String: String] {
        guard let value = document[key], !(value is NSNull) else { return [:] }
        guard let object = value as? [String: Any] else { throw PackumentError(field: key, problem: "not an object") }
        var result: [String: String] = [:]
        for (entryKey, entryValue) in object where !allowing.contains(entryKey) {
            guard let text = entryValue as? String else { throw PackumentError(field: "\(key).\(entryKey)", problem: "not a string") }
            result[entryKey] = text
        }
        return result
    }
}

/// A packument the mirror cannot use, and which field is at fault.
public struct PackumentError: Error, Sendable, CustomStringConvertible {
    public let field: String?
    public let problem: String
    public var description: String { field.map { "packument field \"\($0)\" \(problem)" } ?? "packument \(problem)" }
}

extension Packument {
    /// The path of a package's document on the registry: `/name`, scoped `/@scope%2Fname`, with
    /// anything else a URL path cannot carry percent-encoded.
    public static func registryPath(for name: String) -> String {
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: "\u{0}"..."\u{7F}"))
        allowed.insert(charactersIn: "-._~@!$&'()*+,;=:")
        return "/" + (name.addingPercentEncoding(withAllowedCharacters: allowed) ?? name)
    }

    /// The tarball URL to fetch for `version`: `dist.tarball` when it is on `registryURL`;
    /// otherwise the registry's canonical path under `registryURL` (a document cannot send the
    /// mirror to another host).
    public static func tarballURL(name: String, version: Version, registryURL: String) -> String {
        if let url = version.tarballURL, url.hasPrefix(registryURL + "/") { return url }
        let basename = name.split(separator: "/").last.map(String.init) ?? name
        let file = "\(basename)-\(version.version).tgz"
        var allowed = CharacterSet.alphanumerics.intersection(CharacterSet(charactersIn: "\u{0}"..."\u{7F}"))
        allowed.insert(charactersIn: "-._~")
        let scopeAware = name.split(separator: "/", omittingEmptySubsequences: false)
            .map { $0.addingPercentEncoding(withAllowedCharacters: allowed.union(CharacterSet(charactersIn: "@"))) ?? String($0) }
            .joined(separator: "/")
        return "\(registryURL)/\(scopeAware)/-/\(file.addingPercentEncoding(withAllowedCharacters: allowed) ?? file)"
    }
}
