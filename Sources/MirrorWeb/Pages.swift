/// What each page shows, as plain values: `npm-mirror serve` fills them from its store and records,
/// ``WebPages`` renders them. Every string is escaped by the template; only ``PackagePage/readmeHTML``
/// is inserted as it is, and it comes from ``ReadmeHTML``.

public struct Link: Sendable {
    public var text: String
    public var href: String
    public var note: String?

    public init(text: String, href: String, note: String? = nil) {
        self.text = text
        self.href = href
        self.note = note
    }
}

public struct Figure: Sendable {
    public var label: String
    public var value: String

    public init(_ label: String, _ value: String) {
        self.label = label
        self.value = value
    }
}

public struct HomePage: Sendable {
    /// The mirror's state, one figure each (packages, versions, bytes, seq, lag, …).
    public var figures: [Figure]
    /// Signature verdicts over the package records, with their counts.
    public var verdicts: [Figure]
    /// When the record counts were taken, or why there are none yet.
    public var countedNote: String
    public var registryURL: String

    public init(figures: [Figure], verdicts: [Figure], countedNote: String, registryURL: String) {
        self.figures = figures
        self.verdicts = verdicts
        self.countedNote = countedNote
        self.registryURL = registryURL
    }
}

public struct SearchPage: Sendable {
    public struct Result: Sendable {
        public var name: String
        public var href: String
        public var version: String?
        public var description: String?

        public init(name: String, href: String, version: String?, description: String?) {
            self.name = name
            self.href = href
            self.version = version
            self.description = description
        }
    }

    public var query: String
    public var results: [Result]
    public var total: Int
    /// A sentence instead of results (the index is being built, the query was empty).
    public var message: String?

    public init(query: String, results: [Result], total: Int, message: String? = nil) {
        self.query = query
        self.results = results
        self.total = total
        self.message = message
    }
}

public struct PackagePage: Sendable {
    public struct VersionRow: Sendable {
        public var version: String
        public var href: String
        public var published: String?
        public var held: Bool
        /// Why it is not held: not kept (beyond the newest N), too large, refused, not yet fetched.
        public var notHeldReason: String?
        public var size: String?
        public var signature: String?
        public var provenance: String?
        public var repository: String?
        public var workflow: String?
        public var deprecated: String?
        public var tags: String?

        public init(version: String, href: String) {
            self.version = version
            self.href = href
            self.held = false
        }
    }

    public struct ChangeRow: Sendable {
        public var seq: String
        public var outcome: String
        public var processedAt: String

        public init(seq: String, outcome: String, processedAt: String) {
            self.seq = seq
            self.outcome = outcome
            self.processedAt = processedAt
        }
    }

    public var name: String
    public var description: String?
    public var latest: String?
    public var distTags: [Link]
    public var installCommand: String
    public var versions: [VersionRow]
    /// Versions older than those listed.
    public var olderVersions: Int?
    public var dependencies: [Link]
    public var maintainers: String?
    public var homepage: String?
    public var repository: String?
    public var license: String?
    public var readmeHTML: String?
    public var readmeTruncated: Bool
    public var changes: [ChangeRow]
    /// A note on the mirror's state of the package: deleted, unpublished, stale, not yet processed.
    public var state: String?

    public init(name: String, installCommand: String) {
        self.name = name
        self.installCommand = installCommand
        self.distTags = []
        self.versions = []
        self.dependencies = []
        self.readmeTruncated = false
        self.changes = []
    }
}

public struct VersionPage: Sendable {
    public var name: String
    public var version: String
    public var packageHref: String
    public var fields: [Figure]
    public var tarballURL: String?
    public var attestationsURL: String?
    public var dependencies: [Link]
    public var deprecated: String?
    public var installCommand: String

    public init(name: String, version: String, installCommand: String) {
        self.name = name
        self.version = version
        self.packageHref = WebLinks.package(name)
        self.fields = []
        self.dependencies = []
        self.installCommand = installCommand
    }
}

/// A page that only says something: not found, not ready.
public struct MessagePage: Sendable {
    public var title: String
    public var message: String

    public init(title: String, message: String) {
        self.title = title
        self.message = message
    }
}
