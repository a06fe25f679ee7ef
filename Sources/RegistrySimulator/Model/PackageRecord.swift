/// A person as the registry writes it in `maintainers`, `author` and `_npmUser`.
struct Person: Sendable, Hashable {
    var name: String
    var email: String
}

/// A dependency entry, `name: range`.
struct Dependency: Sendable, Hashable {
    var name: String
    var range: String
}

/// Everything needed to build one generated tarball, deterministically.
///
/// This is also the tarball cache key: the bytes are a pure function of it.
struct TarballSpec: Sendable, Hashable {
    var packageName: String
    var version: String
    var description: String
    var seed: UInt64
    /// Number of small source files besides `package.json` and `README.md`.
    var sourceFiles: Int
    /// Size of an extra incompressible file (`dist/bundle.bin`); 0 for none.
    var payloadBytes: Int
}

/// One published version of a generated package.
struct VersionRecord: Sendable {
    var version: String
    var publishedAt: Timestamp
    var dependencies: [Dependency]
    var devDependencies: [Dependency]
    var deprecated: String?
    var tarball: TarballSpec
}

/// A generated package's document state at one revision.
struct GeneratedPackage: Sendable {
    var name: String
    var description: String
    var seed: UInt64
    /// Versions in publication order.
    var versions: [VersionRecord]
    /// dist-tags in insertion order; `latest` first.
    var distTags: [(tag: String, version: String)]
    var created: Timestamp
    var modified: Timestamp
    var maintainers: [Person]
    var author: Person
    var license: String
    var keywords: [String]
    /// Approximate size of the `readme` text.
    var readmeBytes: Int
    /// When set, the readme is sized so the full document is about this many bytes.
    var targetDocumentBytes: Int?

    func distTag(_ tag: String) -> String? {
        self.distTags.first { $0.tag == tag }?.version
    }

    mutating func setDistTag(_ tag: String, to version: String) {
        if let index = self.distTags.firstIndex(where: { $0.tag == tag }) {
            self.distTags[index].version = version
        } else {
            self.distTags.append((tag, version))
        }
    }

    func version(_ version: String) -> VersionRecord? {
        self.versions.first { $0.version == version }
    }
}

/// The stub the registry keeps for a package whose versions were all unpublished.
struct UnpublishedPackage: Sendable {
    var name: String
    var created: Timestamp
    var modified: Timestamp
    var versionTimes: [(version: String, time: Timestamp)]
    var maintainers: [Person]
}

/// A package read from disk (`--from DIR`): its JSON is served as recorded.
struct RecordedPackage: Sendable {
    var name: String
    /// The file's bytes as text.
    var json: String
    /// Abbreviated form derived at load time (nil when the document has no versions).
    var abbreviatedJSON: String?
    /// Version names present in `versions`.
    var versions: Set<String>
}

/// What a package is at one revision.
enum PackageContent: Sendable {
    case generated(GeneratedPackage)
    case unpublished(UnpublishedPackage)
    case recorded(RecordedPackage)
    case deleted

    var isDeleted: Bool {
        if case .deleted = self { return true }
        return false
    }
}

/// One revision of one package document.
struct PackageRevision: Sendable {
    var name: String
    /// The generation number `G` of `_rev = "G-<hash>"`.
    var generation: Int
    /// The full `_rev` string.
    var rev: String
    var content: PackageContent
    /// When this revision was written; `nil` for revisions that existed before start.
    var changedAt: ContinuousClock.Instant?
}
