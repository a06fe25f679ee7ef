import Foundation
import MirrorJSON
import MirrorSignatures
import NPMNames

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
        /// `dist.signatures`: the registry's signatures over `<name>@<version>:<integrity>`, in
        /// order; entries that are not `{keyid, sig}` strings are left out.
        public var signatures: [DistSignature] = []
        /// `dist.attestations.url`: where the registry serves this version's attestations, when
        /// it has any.
        public var attestationsURL: String?
        /// `dist.attestations.provenance.predicateType`: the provenance's kind, when there is one.
        public var provenancePredicateType: String?

        public init(
            version: String, tarballURL: String?, shasum: String?, integrity: String?, size: Int64?, unpackedSize: Int64?,
            dependencies: [String: String], author: String?,
            signatures: [DistSignature] = [], attestationsURL: String? = nil, provenancePredicateType: String? = nil
        ) {
            self.version = version
            self.tarballURL = tarballURL
            self.shasum = shasum
            self.integrity = integrity
            self.size = size
            self.unpackedSize = unpackedSize
            self.dependencies = dependencies
            self.author = author
            self.signatures = signatures
            self.attestationsURL = attestationsURL
            self.provenancePredicateType = provenancePredicateType
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
    /// The top-level `description`, at most ``maximumDescriptionLength`` characters (a longer one is
    /// cut there); nil when absent or not a string. The package record keeps it for search.
    public var description: String?

    /// The most characters of `description` kept.
    public static let maximumDescriptionLength = 1_024

    /// `dist-tags.latest`.
    public var latest: String? { distTags["latest"] }
    public var modified: String? { time["modified"] }

    /// The generation of `_rev` (the number before the dash).
    public var revGeneration: Int? { rev.flatMap(DocumentRevision.generation) }

    /// Parses a packument for `expectedName`.
    ///
    /// One pass over the bytes (``JSONScanner``): only the fields listed on ``Packument`` are built,
    /// everything else (READMEs, scripts, the rest of each version) is stepped over, so a 20 MB
    /// document costs its fields, not a tree of all its values.
    public static func parse(_ body: some Collection<UInt8>, expectedName: String) throws(PackumentError) -> Packument {
        try JSONScanner.withBytes(of: body) { parse($0, expectedName: expectedName) }.get()
    }

    private static func parse(_ bytes: UnsafeRawBufferPointer, expectedName: String) -> Result<Packument, PackumentError> {
        var fields = Fields()
        var scanner = JSONScanner(bytes)
        do {
            try scanner.readDocument { scanner throws(JSONScanner.Failure) in
                try scanner.readObject { scanner, key throws(JSONScanner.Failure) in
                    try fields.read(key, from: &scanner)
                }
            }
        } catch {
            return .failure(PackumentError(field: nil, problem: error.message))
        }
        if let problem = fields.problem { return .failure(problem) }
        guard let name = fields.name ?? fields.id else { return .failure(PackumentError(field: "name", problem: "missing")) }
        guard name == expectedName else {
            return .failure(PackumentError(field: "name", problem: "is \"\(name.prefix(100))\", not the package asked for"))
        }
        return .success(Packument(
            name: name,
            rev: fields.rev,
            distTags: fields.distTags,
            versions: fields.versions,
            malformedVersions: fields.malformedVersions,
            time: fields.time,
            isUnpublished: fields.isUnpublished,
            maintainers: fields.maintainers,
            description: fields.description
        ))
    }

    /// The fields as they are read; the first one of the wrong type is kept in `problem` (the rest
    /// of the document is still read, so a body that is not JSON says so first).
    private struct Fields {
        var name: String?
        var id: String?
        var rev: String?
        var distTags: [String: String] = [:]
        var time: [String: String] = [:]
        var isUnpublished = false
        var versions: [String: Version] = [:]
        var malformedVersions: [String: String] = [:]
        var maintainers: [String] = []
        var description: String?
        var problem: PackumentError?

        mutating func read(_ key: String, from scanner: inout JSONScanner) throws(JSONScanner.Failure) {
            switch key {
            case "name": name = try optionalString(key, &scanner)
            case "_id": id = try optionalString(key, &scanner)
            case "_rev": rev = try optionalString(key, &scanner)
            case "dist-tags": distTags = try stringMap(key, &scanner) { _ in false }
            case "time":
                var unpublished = false
                time = try stringMap(key, &scanner) { entry in
                    guard entry == "unpublished" else { return false }
                    unpublished = true
                    return true
                }
                isUnpublished = unpublished
            case "versions":
                guard scanner.peek() == UInt8(ascii: "{") else {
                    try scanner.skipValue()
                    fail(key, "not an object")
                    return
                }
                versions = [:]
                malformedVersions = [:]
                try scanner.readObject { scanner, version throws(JSONScanner.Failure) in
                    switch try scanner.readVersion(version) {
                    case .success(let entry): versions[version] = entry
                    case .failure(let reason): malformedVersions[version] = reason.rawValue
                    }
                }
            case "description":
                // Many real packuments have a description of another type (null, an array): not a problem.
                description = try scanner.readStringIfString().map { String($0.prefix(Packument.maximumDescriptionLength)) }
            case "maintainers":
                maintainers = []
                guard scanner.peek() == UInt8(ascii: "[") else { return try scanner.skipValue() }
                try scanner.readArray { scanner throws(JSONScanner.Failure) in
                    switch scanner.peek() {
                    case UInt8(ascii: "\""): maintainers.append(try scanner.readString())
                    case UInt8(ascii: "{"):
                        var maintainer: String?
                        try scanner.readObject { scanner, field throws(JSONScanner.Failure) in
                            if field == "name" { maintainer = try scanner.readStringIfString() } else { try scanner.skipValue() }
                        }
                        if let maintainer { maintainers.append(maintainer) }
                    default: try scanner.skipValue()
                    }
                }
            default:
                try scanner.skipValue()
            }
        }

        /// A string, or nil for `null`; anything else is a problem with `field`.
        private mutating func optionalString(_ field: String, _ scanner: inout JSONScanner) throws(JSONScanner.Failure) -> String? {
            if scanner.peek() == UInt8(ascii: "\"") { return try scanner.readString() }
            if !scanner.matchLiteral("null") {
                try scanner.skipValue()
                fail(field, "has the wrong type")
            }
            return nil
        }

        /// An object of strings (or `null`: empty); keys for which `isExempt` is true may hold any value and are left out.
        private mutating func stringMap(_ field: String, _ scanner: inout JSONScanner, isExempt: (String) -> Bool) throws(JSONScanner.Failure) -> [String: String] {
            var map: [String: String] = [:]
            guard scanner.peek() == UInt8(ascii: "{") else {
                if !scanner.matchLiteral("null") {
                    try scanner.skipValue()
                    fail(field, "not an object")
                }
                return map
            }
            var wrong: String?
            try scanner.readObject { scanner, key throws(JSONScanner.Failure) in
                if isExempt(key) { return try scanner.skipValue() }
                if let text = try scanner.readStringIfString() {
                    map[key] = text
                } else if wrong == nil {
                    wrong = key
                }
            }
            if let wrong { fail("\(field).\(wrong)", "not a string") }
            return map
        }

        private mutating func fail(_ field: String, _ problem: String) {
            if self.problem == nil { self.problem = PackumentError(field: field, problem: problem) }
        }
    }

    /// Why a version was set aside.
    fileprivate enum MalformedVersion: String, Error {
        case notAnObject = "not_an_object"
        case noDist = "no_dist"
        case noDigest = "no_digest"
    }
}

extension JSONScanner {
    /// One entry of `versions`: its `dist`, `dependencies` and `author`.
    fileprivate mutating func readVersion(_ version: String) throws(Failure) -> Result<Packument.Version, Packument.MalformedVersion> {
        guard peek() == UInt8(ascii: "{") else {
            try skipValue()
            return .failure(.notAnObject)
        }
        var hasDist = false
        var tarballURL: String?
        var shasum: String?
        var integrity: String?
        var size: Int64?
        var unpackedSize: Int64?
        var dependencies: [String: String] = [:]
        var author: String?
        var signatures: [DistSignature] = []
        var attestationsURL: String?
        var provenancePredicateType: String?
        try readObject { scanner, key throws(Failure) in
            switch key {
            case "dist":
                guard scanner.peek() == UInt8(ascii: "{") else {
                    hasDist = false
                    return try scanner.skipValue()
                }
                hasDist = true
                (tarballURL, shasum, integrity, size, unpackedSize) = (nil, nil, nil, nil, nil)
                (signatures, attestationsURL, provenancePredicateType) = ([], nil, nil)
                try scanner.readObject { scanner, field throws(Failure) in
                    switch field {
                    case "tarball": tarballURL = try scanner.readStringIfString()
                    case "shasum": shasum = try scanner.readStringIfString()
                    case "integrity": integrity = try scanner.readStringIfString()
                    case "size": size = try scanner.readIntegerIfInteger()
                    case "unpackedSize": unpackedSize = try scanner.readIntegerIfInteger()
                    case "signatures": signatures = try scanner.readSignatures()
                    case "attestations":
                        guard scanner.peek() == UInt8(ascii: "{") else { return try scanner.skipValue() }
                        try scanner.readObject { scanner, entry throws(Failure) in
                            switch entry {
                            case "url": attestationsURL = try scanner.readStringIfString()
                            case "provenance":
                                guard scanner.peek() == UInt8(ascii: "{") else { return try scanner.skipValue() }
                                try scanner.readObject { scanner, part throws(Failure) in
                                    if part == "predicateType" { provenancePredicateType = try scanner.readStringIfString() } else { try scanner.skipValue() }
                                }
                            default: try scanner.skipValue()
                            }
                        }
                    default: try scanner.skipValue()
                    }
                }
            case "dependencies":
                dependencies = [:]
                guard scanner.peek() == UInt8(ascii: "{") else { return try scanner.skipValue() }
                try scanner.readObject { scanner, dependency throws(Failure) in
                    if let range = try scanner.readStringIfString() { dependencies[dependency] = range }
                }
            case "author":
                switch scanner.peek() {
                case UInt8(ascii: "\""): author = try scanner.readString()
                case UInt8(ascii: "{"):
                    author = nil
                    try scanner.readObject { scanner, field throws(Failure) in
                        if field == "name" { author = try scanner.readStringIfString() } else { try scanner.skipValue() }
                    }
                default:
                    author = nil
                    try scanner.skipValue()
                }
            default:
                try scanner.skipValue()
            }
        }
        guard hasDist else { return .failure(.noDist) }
        guard integrity != nil || shasum != nil else { return .failure(.noDigest) }
        return .success(Packument.Version(
            version: version, tarballURL: tarballURL, shasum: shasum, integrity: integrity, size: size, unpackedSize: unpackedSize,
            dependencies: dependencies, author: author,
            signatures: signatures, attestationsURL: attestationsURL, provenancePredicateType: provenancePredicateType
        ))
    }

    /// `dist.signatures`: the `{keyid, sig}` entries whose two fields are strings, in order.
    fileprivate mutating func readSignatures() throws(Failure) -> [DistSignature] {
        guard peek() == UInt8(ascii: "[") else {
            try skipValue()
            return []
        }
        var signatures: [DistSignature] = []
        try readArray { scanner throws(Failure) in
            guard scanner.peek() == UInt8(ascii: "{") else { return try scanner.skipValue() }
            var keyid: String?
            var sig: String?
            try scanner.readObject { scanner, field throws(Failure) in
                switch field {
                case "keyid": keyid = try scanner.readStringIfString()
                case "sig": sig = try scanner.readStringIfString()
                default: try scanner.skipValue()
                }
            }
            if let keyid, let sig { signatures.append(DistSignature(keyid: keyid, sig: sig)) }
        }
        return signatures
    }
}

/// A packument the mirror cannot use, and which field is at fault.
public struct PackumentError: Error, Sendable, CustomStringConvertible {
    public let field: String?
    public let problem: String
    public var description: String { field.map { "packument field \"\($0)\" \(problem)" } ?? "packument \(problem)" }
}

extension Packument {
    /// The tarball URL to fetch for `version`: `dist.tarball` when it is on `registryURL`;
    /// otherwise the registry's canonical path under `registryURL` (a document cannot send the
    /// mirror to another host).
    public static func tarballURL(name: String, version: Version, registryURL: String) -> String {
        if let url = version.tarballURL, url.hasPrefix(registryURL + "/") { return url }
        return registryURL + PackageName.tarballPath(name: name, version: version.version)
    }
}
