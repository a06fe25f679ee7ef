import Foundation
import MirrorJSON
import MirrorRecords
import MirrorStore

/// Derives the documents the server answers with from one stored packument, in one pass of
/// ``JSONScanner`` over its bytes: every value the server keeps is copied byte for byte from the
/// packument (so `dist.integrity`, `dist.signatures`, … stay exactly as the registry sent them);
/// only `versions`, `dist-tags`, `time`, `dist.tarball` and `dist.attestations.url` are rebuilt.
///
/// - Versions: only those in ``heldVersions`` (when it is set: the tarballs the mirror holds), less
///   those the ``cooldown`` holds back (`SERVE_MIN_AGE`: published too recently).
/// - `dist-tags`: a tag whose version is not served moves to the highest served stable version
///   (the highest prerelease when none is stable), or is dropped when nothing is served.
/// - `time`: `created`, `modified` and the served versions.
/// - `dist.tarball`: `<tarballBase>/<name>/-/<basename>-<version>.tgz`.
/// - `dist.attestations.url`: `<tarballBase>/-/npm/v1/attestations/<name>@<version>`, which the
///   mirror answers with the response the consumer stored.
///
/// The abbreviated document (`application/vnd.npm.install-v1+json`) has `name`, `modified`,
/// `dist-tags`, `versions` and `time`; each version only ``abbreviatedVersionFields``, plus
/// `hasInstallScript: true` when `scripts` has a `preinstall`, `install` or `postinstall`.
struct PackumentDerivation: Sendable {
    /// The versions to serve; nil serves every version (a metadata-only mirror).
    var heldVersions: Set<String>?
    /// The base of served tarball URLs, without a trailing slash (`http://127.0.0.1:4873`).
    var tarballBase: String
    /// `SERVE_MIN_AGE`, with the time the derivation is made at; nil: nothing is held back.
    var cooldown: Cooldown?

    /// `SERVE_MIN_AGE`, and the time (seconds since 1970) the derivation is made at.
    struct Cooldown: Sendable, Hashable {
        var rule: ReleaseCooldown
        var now: Int64
    }

    /// What the cooldown left out, and until when that holds.
    struct HeldBack: Sendable, Hashable {
        /// Sorted.
        var versions: [String] = []
        /// When the first of them comes of age (seconds since 1970); nil when none is held back, so
        /// the documents hold for as long as the packument's revision does.
        var until: Int64?
    }

    /// The per-version members the abbreviated document keeps (npm's list).
    static let abbreviatedVersionFields: Set<String> = [
        "name", "version", "deprecated", "dependencies", "acceptDependencies", "optionalDependencies",
        "devDependencies", "bundleDependencies", "peerDependencies", "peerDependenciesMeta", "bin",
        "directories", "dist", "engines", "_hasShrinkwrap", "funding", "cpu", "os", "libc",
    ]

    /// What a packument becomes.
    enum Outcome {
        /// The full and abbreviated documents, the index of the full one and the web pages' summary.
        case documents(full: [UInt8], abbreviated: [UInt8], index: DocumentIndex, web: WebSummary.Derived, heldBack: HeldBack)
        /// The package is unpublished: the 404 body to answer with.
        case unpublished(body: [UInt8])
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    func derive(packument bytes: UnsafeRawBufferPointer, name: String) throws(Failure) -> Outcome {
        let layout: PackumentLayout
        do {
            layout = try PackumentLayout(bytes)
        } catch {
            throw Failure(description: "the stored packument of \(name.prefix(100)) is not a JSON object: \(error)")
        }
        if layout.isUnpublished {
            return .unpublished(body: Self.unpublishedBody(layout, bytes: bytes))
        }
        let held = layout.versions.filter { heldVersions?.contains($0.key) ?? true }
        let heldBack = cooldown.map { Self.heldBack(held.map(\.key), layout: layout, bytes: bytes, cooldown: $0) } ?? HeldBack()
        let served = heldBack.versions.isEmpty ? held : held.filter { !heldBack.versions.contains($0.key) }
        let servedKeys = Set(served.map(\.key))
        let fallback = SemanticVersion.fallback(among: served.map(\.key))
        var tags: [(tag: String, version: String)] = []
        for (tag, version) in layout.distTags {
            if servedKeys.contains(version) {
                tags.append((tag, version))
            } else if let fallback {
                tags.append((tag, fallback))
            }
        }
        let time = layout.time.filter { $0.key == "created" || $0.key == "modified" || servedKeys.contains($0.key) }

        // Full document: the packument's members in their order, three of them rebuilt.
        var full = JSONEmitter(source: bytes)
        var offsets: [String: Range<Int>] = [:]
        full.json.beginObject()
        for member in layout.members {
            switch member.key {
            case "versions" where layout.versionsIsObject:
                full.json.key("versions")
                offsets = emitVersions(served, into: &full, name: name, abbreviated: false)
            case "dist-tags" where layout.distTagsIsObject:
                full.json.key("dist-tags")
                Self.emitTags(tags, into: &full)
            case "time" where layout.timeIsObject:
                full.json.key("time")
                full.rawObject(time)
            default:
                full.json.key(member.key)
                full.raw(member.value)
            }
        }
        full.json.endObject()

        // Abbreviated document.
        var abbreviated = JSONEmitter(source: bytes)
        abbreviated.json.beginObject()
        abbreviated.json.key("name")
        if let member = layout.member("name") { abbreviated.raw(member.value) } else { abbreviated.json.string(name) }
        if let modified = layout.time.last(where: { $0.key == "modified" }) {
            abbreviated.json.key("modified")
            abbreviated.raw(modified.value)
        }
        abbreviated.json.key("dist-tags")
        Self.emitTags(tags, into: &abbreviated)
        abbreviated.json.key("versions")
        _ = emitVersions(served, into: &abbreviated, name: name, abbreviated: true)
        if layout.timeIsObject {
            abbreviated.json.key("time")
            abbreviated.rawObject(time)
        }
        abbreviated.json.endObject()

        let index = DocumentIndex(
            layout: layout,
            bytes: bytes,
            name: name,
            distTags: tags,
            versionRanges: offsets
        )
        let web = WebSummary.derive(layout: layout, bytes: bytes, served: servedKeys, tags: tags)
        return .documents(full: full.output, abbreviated: abbreviated.output, index: index, web: web, heldBack: heldBack)
    }

    /// The versions among `candidates` published less than the cooldown's minimum age ago.
    static func heldBack(_ candidates: [String], layout: PackumentLayout, bytes: UnsafeRawBufferPointer, cooldown: Cooldown) -> HeldBack {
        let times = Dictionary(layout.time.map { ($0.key, $0.value) }, uniquingKeysWith: { _, last in last })
        var result = HeldBack()
        for version in candidates {
            guard let range = times[version],
                let published = (try? JSONValue(parsing: UnsafeRawBufferPointer(rebasing: bytes[range])))?.stringValue,
                let comesOfAge = cooldown.rule.heldBackUntil(published: published, now: cooldown.now)
            else { continue }
            result.versions.append(version)
            result.until = min(result.until ?? comesOfAge, comesOfAge)
        }
        result.versions.sort()
        return result
    }

    /// The served URL of a version's attestations (`/-/npm/v1/attestations/<name>@<version>` on the
    /// mirror; the name's `/` as `%2f`).
    func attestationsURL(name: String, version: String) -> String {
        tarballBase + "/-/npm/v1/attestations/" + RegistryPaths.packagePath(name).replacingOccurrences(of: "/", with: "%2f") + "@" + version
    }

    /// `dist.attestations` with its `url` pointing at the mirror; every other member (the
    /// provenance's predicate type) as the registry sent it. A value that is not an object is kept.
    private func emitAttestations(_ range: Range<Int>, name: String, version: String, into emitter: inout JSONEmitter) {
        guard case .object(var members)? = try? JSONValue(parsing: UnsafeRawBufferPointer(rebasing: emitter.source[range])) else {
            return emitter.raw(range)
        }
        members["url"] = .string(attestationsURL(name: name, version: version))
        emitter.json.value(.object(members))
    }

    /// The served tarball URL of a version.
    func tarballURL(name: String, version: String) -> String {
        tarballBase + "/" + RegistryPaths.packagePath(name) + "/-/" + RegistryPaths.tarballFileName(name: name, version: version)
    }

    /// Writes the served versions; returns each version's byte range in the output.
    private func emitVersions(_ versions: [VersionLayout], into emitter: inout JSONEmitter, name: String, abbreviated: Bool) -> [String: Range<Int>] {
        var ranges: [String: Range<Int>] = [:]
        emitter.json.beginObject()
        for version in versions {
            emitter.json.key(version.key)
            let start = emitter.output.count
            if !version.isObject {
                emitter.raw(version.value)
            } else {
                let url = tarballURL(name: name, version: version.key)
                emitter.json.beginObject()
                for member in version.members {
                    if abbreviated && !Self.abbreviatedVersionFields.contains(member.key) { continue }
                    if member.key == "dist", let dist = version.dist {
                        emitter.json.key("dist")
                        emitter.json.beginObject()
                        for field in dist where field.key != "tarball" {
                            emitter.json.key(field.key)
                            if field.key == "attestations" {
                                emitAttestations(field.value, name: name, version: version.key, into: &emitter)
                            } else {
                                emitter.raw(field.value)
                            }
                        }
                        emitter.json.key("tarball")
                        emitter.json.string(url)
                        emitter.json.endObject()
                    } else {
                        emitter.json.key(member.key)
                        emitter.raw(member.value)
                    }
                }
                if !version.members.contains(where: { $0.key == "dist" }) {
                    emitter.json.key("dist")
                    emitter.json.beginObject()
                    emitter.json.key("tarball")
                    emitter.json.string(url)
                    emitter.json.endObject()
                }
                if abbreviated && version.hasInstallScript {
                    emitter.json.key("hasInstallScript")
                    emitter.json.bool(true)
                }
                emitter.json.endObject()
            }
            ranges[version.key] = start..<emitter.output.count
        }
        emitter.json.endObject()
        return ranges
    }

    private static func emitTags(_ tags: [(tag: String, version: String)], into emitter: inout JSONEmitter) {
        emitter.json.beginObject()
        for (tag, version) in tags {
            emitter.json.key(tag)
            emitter.json.string(version)
        }
        emitter.json.endObject()
    }

    /// npm's answer for an unpublished package: 404, `not_found`, and when it happened.
    static func unpublishedBody(_ layout: PackumentLayout, bytes: UnsafeRawBufferPointer) -> [UInt8] {
        var reason = "This package has been unpublished."
        if let member = layout.time.last(where: { $0.key == "unpublished" }),
            let value = try? JSONValue(parsing: UnsafeRawBufferPointer(rebasing: bytes[member.value])),
            let when = value["time"]?.stringValue
        {
            reason = "This package was unpublished at \(when)."
        }
        return JSONValue.object(["error": "not_found", "reason": .string(reason)]).serializedBytes
    }
}

/// One object member: its (decoded) key and the byte range of its value in the source.
struct RawMember: Sendable {
    var key: String
    var value: Range<Int>
}

/// One entry of `versions`.
struct VersionLayout: Sendable {
    var key: String
    var value: Range<Int>
    var isObject: Bool
    var members: [RawMember]
    /// The members of `dist`, when it is an object.
    var dist: [RawMember]?
    var hasInstallScript: Bool
}

/// Where the parts of a packument are, found in one pass; nothing is copied.
struct PackumentLayout: Sendable {
    private(set) var members: [RawMember] = []
    private(set) var versions: [VersionLayout] = []
    private(set) var versionsIsObject = false
    private(set) var distTags: [(String, String)] = []
    private(set) var distTagsIsObject = false
    private(set) var time: [RawMember] = []
    private(set) var timeIsObject = false

    init(_ bytes: UnsafeRawBufferPointer) throws(JSONScanner.Failure) {
        var scanner = JSONScanner(bytes)
        var layout = self
        try scanner.readDocument { scanner throws(JSONScanner.Failure) in
            try scanner.readObject { scanner, key throws(JSONScanner.Failure) in
                let start = scanner.index
                let isObject = scanner.peek() == UInt8(ascii: "{")
                switch key {
                case "versions" where isObject:
                    var versions: [VersionLayout] = []
                    try scanner.readObject { scanner, version throws(JSONScanner.Failure) in
                        versions.append(try Self.readVersion(&scanner, key: version))
                    }
                    layout.versions = Self.lastOfEachKey(versions, key: \.key)
                    layout.versionsIsObject = true
                case "dist-tags" where isObject:
                    var tags: [(String, String)] = []
                    try scanner.readObject { scanner, tag throws(JSONScanner.Failure) in
                        if let version = try scanner.readStringIfString() { tags.append((tag, version)) }
                    }
                    layout.distTags = Self.lastOfEachKey(tags, key: \.0)
                    layout.distTagsIsObject = true
                case "time" where isObject:
                    layout.time = try Self.readMembers(&scanner)
                    layout.timeIsObject = true
                default:
                    try scanner.skipValue()
                    if key == "versions" { layout.versionsIsObject = false }
                    if key == "dist-tags" { layout.distTagsIsObject = false }
                    if key == "time" { layout.timeIsObject = false }
                }
                layout.members.append(RawMember(key: key, value: start..<scanner.index))
            }
        }
        layout.members = Self.lastOfEachKey(layout.members, key: \.key)
        self = layout
    }

    func member(_ key: String) -> RawMember? {
        members.last { $0.key == key }
    }

    /// Fully unpublished: no versions left and `time.unpublished` set.
    var isUnpublished: Bool {
        versions.isEmpty && time.contains { $0.key == "unpublished" }
    }

    private static func readMembers(_ scanner: inout JSONScanner) throws(JSONScanner.Failure) -> [RawMember] {
        var members: [RawMember] = []
        try scanner.readObject { scanner, key throws(JSONScanner.Failure) in
            let start = scanner.index
            try scanner.skipValue()
            members.append(RawMember(key: key, value: start..<scanner.index))
        }
        return lastOfEachKey(members, key: \.key)
    }

    private static func readVersion(_ scanner: inout JSONScanner, key: String) throws(JSONScanner.Failure) -> VersionLayout {
        let start = scanner.index
        guard scanner.peek() == UInt8(ascii: "{") else {
            try scanner.skipValue()
            return VersionLayout(key: key, value: start..<scanner.index, isObject: false, members: [], dist: nil, hasInstallScript: false)
        }
        var members: [RawMember] = []
        var dist: [RawMember]?
        var installScript = false
        var declaredInstallScript = false
        try scanner.readObject { scanner, member throws(JSONScanner.Failure) in
            let valueStart = scanner.index
            let isObject = scanner.peek() == UInt8(ascii: "{")
            switch member {
            case "dist" where isObject:
                dist = try readMembers(&scanner)
            case "dist":
                dist = nil
                try scanner.skipValue()
            case "scripts" where isObject:
                var found = false
                try scanner.readObject { scanner, script throws(JSONScanner.Failure) in
                    let value = try scanner.readStringIfString()
                    if ["preinstall", "install", "postinstall"].contains(script), let value, !value.isEmpty { found = true }
                }
                installScript = found
            case "hasInstallScript":
                declaredInstallScript = try scanner.readTrueIfBoolean()
            default:
                try scanner.skipValue()
            }
            members.append(RawMember(key: member, value: valueStart..<scanner.index))
        }
        return VersionLayout(
            key: key,
            value: start..<scanner.index,
            isObject: true,
            members: lastOfEachKey(members, key: \.key),
            dist: dist,
            hasInstallScript: installScript || declaredInstallScript
        )
    }

    /// Repeated keys: the last one wins (as in `JSONValue(parsing:)`), at its own position.
    static func lastOfEachKey<T>(_ items: [T], key: (T) -> String) -> [T] {
        var seen = Set<String>()
        var result: [T] = []
        for item in items.reversed() where seen.insert(key(item)).inserted { result.append(item) }
        return result.reversed()
    }
}

/// The derivation's writer: ``JSONWriter``, and the packument whose ranges it copies.
struct JSONEmitter {
    let source: UnsafeRawBufferPointer
    var json: JSONWriter

    init(source: UnsafeRawBufferPointer) {
        self.source = source
        json = JSONWriter(capacity: source.count / 2)
    }

    var output: [UInt8] { json.bytes }

    /// A value copied from the packument as it is.
    mutating func raw(_ range: Range<Int>) {
        json.raw(UnsafeRawBufferPointer(rebasing: source[range]))
    }

    /// An object of raw members.
    mutating func rawObject(_ members: [RawMember]) {
        json.beginObject()
        for member in members {
            json.key(member.key)
            raw(member.value)
        }
        json.endObject()
    }
}
