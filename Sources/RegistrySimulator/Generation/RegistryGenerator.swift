/// Builds a deterministic registry from a seed.
///
/// The spread follows the real registry's shape: most packages have 1–5 versions and
/// tarballs of a few KB; a long tail has hundreds of versions; a few packuments are
/// several MB and a few tarballs many MB; some names are scoped or contain dots and
/// underscores; a few packages are deleted or unpublished. With 12 or more packages
/// the first nine are always one of each kind, so small registries still cover them.
struct RegistryGenerator {
    /// How one package is shaped.
    struct Profile: Sendable {
        enum NameStyle: Sendable { case plain, scoped, dotted, underscored }
        enum Fate: Sendable { case published, deleted, unpublished }

        var nameStyle: NameStyle = .plain
        var fate: Fate = .published
        var versionCount: Int = 1
        /// Payload of the latest version's tarball (0: a few KB of sources only).
        var latestPayloadBytes: Int = 0
        var readmeBytes: Int = 1000
        var targetDocumentBytes: Int?
        var fixedName: String?
    }

    var packageCount: Int
    var seed: UInt64
    var hugePackumentBytes: Int = 0
    var hugeTarballBytes: Int = 0
    /// See `RegistrySimulator.Configuration.resolvableDependencies`.
    var resolvableDependencies = false

    static let hugePackumentName = "huge-packument"
    static let hugeTarballName = "huge-tarball"

    func generate() -> (packages: [RegistryModel.InitialPackage], notable: NotablePackages) {
        var packages: [RegistryModel.InitialPackage] = []
        packages.reserveCapacity(self.packageCount + 2)
        var notable = NotablePackages()
        var names: [String] = []
        names.reserveCapacity(self.packageCount)
        // With resolvable dependencies: the earlier packages one may depend on, and the range to use.
        var resolvable: [String] = []
        var ranges: [String: String] = [:]

        for index in 0..<self.packageCount {
            let profile = self.profile(forIndex: index)
            let package = Self.makePackage(
                index: index,
                profile: profile,
                seed: self.seed,
                dependencyPool: self.resolvableDependencies ? resolvable : names,
                dependencyRanges: self.resolvableDependencies ? ranges : nil,
                start: nil
            )
            names.append(package.name)
            if self.resolvableDependencies, profile.latestPayloadBytes == 0, case .generated(let generated) = package.content,
                let latest = generated.distTag("latest"), !latest.contains("-")
            {
                resolvable.append(package.name)
                ranges[package.name] = "^" + latest
            }
            notable.record(package, profile: profile)
            packages.append(package)
        }
        if self.hugePackumentBytes > 0 {
            var profile = Profile()
            profile.fixedName = Self.hugePackumentName
            profile.versionCount = 1000
            profile.targetDocumentBytes = self.hugePackumentBytes
            let package = Self.makePackage(index: -1, profile: profile, seed: self.seed, dependencyPool: names, start: nil)
            notable.hugePackument = package.name
            packages.append(package)
        }
        if self.hugeTarballBytes > 0 {
            var profile = Profile()
            profile.fixedName = Self.hugeTarballName
            profile.versionCount = 1
            profile.latestPayloadBytes = self.hugeTarballBytes
            let package = Self.makePackage(index: -2, profile: profile, seed: self.seed, dependencyPool: names, start: nil)
            notable.hugeTarball = package.name
            packages.append(package)
        }
        return (packages, notable)
    }

    func profile(forIndex index: Int) -> Profile {
        var profile = Profile()
        if self.packageCount >= 12 && index < 9 {
            switch index {
            case 1: profile.nameStyle = .scoped
            case 2: profile.nameStyle = .dotted
            case 3: profile.nameStyle = .underscored
            case 4: profile.fate = .deleted; profile.versionCount = 3
            case 5: profile.fate = .unpublished; profile.versionCount = 2
            case 6: profile.versionCount = 150
            case 7: profile.versionCount = 4; profile.latestPayloadBytes = 6 << 20
            case 8: profile.versionCount = 250; profile.readmeBytes = 3 << 20
            default: profile.versionCount = 3
            }
            return profile
        }
        var random = SplitMix64(seed: self.seed, stream: "profile-\(index)")
        Self.randomize(&profile, using: &random)
        return profile
    }

    static func randomize(_ profile: inout Profile, using random: inout SplitMix64) {
        let style = random.unit()
        profile.nameStyle = style < 0.10 ? .scoped : style < 0.15 ? .dotted : style < 0.18 ? .underscored : .plain
        let fate = random.unit()
        profile.fate = fate < 0.02 ? .deleted : fate < 0.03 ? .unpublished : .published
        let spread = random.unit()
        profile.versionCount =
            spread < 0.78 ? random.int(in: 1...5)
            : spread < 0.95 ? random.int(in: 6...30)
            : spread < 0.99 ? random.int(in: 31...120)
            : random.int(in: 150...600)
        if random.chance(0.005) {
            profile.latestPayloadBytes = random.int(in: 2...16) << 20
        }
        profile.readmeBytes = random.chance(0.003) ? random.int(in: 1...4) << 20 : random.int(in: 200...6000)
    }

    // MARK: Packages

    static func name(index: Int, style: Profile.NameStyle, random: inout SplitMix64) -> String {
        let adjective = random.pick(Words.adjectives)
        let noun = random.pick(Words.nouns)
        switch style {
        case .plain: return "\(adjective)-\(noun)-\(index)"
        case .scoped: return "@\(random.pick(Words.scopes))/\(noun)-\(adjective)-\(index)"
        case .dotted: return "\(noun).\(adjective).\(index)"
        case .underscored: return "\(adjective)_\(noun)_\(index)"
        }
    }

    /// One package with its whole history. `start` is the creation time (nil: a
    /// seeded time in the past); live changes pass the current time.
    static func makePackage(
        index: Int,
        profile: Profile,
        seed: UInt64,
        dependencyPool: [String],
        dependencyRanges: [String: String]? = nil,
        start: Timestamp?
    ) -> RegistryModel.InitialPackage {
        var random = SplitMix64(seed: seed, stream: "package-\(index)")
        let name = profile.fixedName ?? Self.name(index: index, style: profile.nameStyle, random: &random)
        let packageSeed = random.next()
        let created = start ?? Timestamp.generationEpoch.adding(milliseconds: Int64(random.int(in: 0...300_000_000_000)))
        let description = "\(random.pick(Words.adjectives)) \(random.pick(Words.nouns)) \(random.pick(Words.nouns)) for \(random.pick(Words.nouns))s"
        let maintainers = (0..<random.int(in: 1...3)).map { offset -> Person in
            let person = Words.people[(random.int(in: 0...Words.people.count - 1) + offset) % Words.people.count]
            return Person(name: person, email: "\(person)@example.com")
        }
        let uniqueMaintainers = maintainers.reduce(into: [Person]()) { if !$0.contains($1) { $0.append($1) } }
        let keywords = (0..<random.int(in: 0...4)).map { _ in random.pick(Words.nouns) }

        var package = GeneratedPackage(
            name: name,
            description: description,
            seed: packageSeed,
            versions: [],
            distTags: [],
            created: created,
            modified: created,
            maintainers: uniqueMaintainers,
            author: uniqueMaintainers[0],
            license: random.pick(Words.licenses),
            keywords: keywords,
            readmeBytes: profile.readmeBytes,
            targetDocumentBytes: profile.targetDocumentBytes
        )
        var time = created
        for versionIndex in 0..<max(1, profile.versionCount) {
            let isLatest = versionIndex == max(1, profile.versionCount) - 1
            let version = Self.nextVersion(after: package.versions.last?.version, random: &random)
            time = time.adding(milliseconds: versionIndex == 0 ? 120 : Int64(random.int(in: 3_600_000...2_000_000_000)))
            if start != nil { time = created }
            Self.appendVersion(
                version,
                to: &package,
                at: time,
                payloadBytes: isLatest ? profile.latestPayloadBytes : 0,
                dependencyPool: dependencyPool,
                dependencyRanges: dependencyRanges,
                random: &random
            )
        }
        let generation = package.versions.count + (profile.fate == .published ? 0 : 1)
        let content: PackageContent
        switch profile.fate {
        case .published:
            content = .generated(package)
        case .deleted:
            content = .deleted
        case .unpublished:
            let unpublishedAt = package.modified.adding(milliseconds: Int64(random.int(in: 60_000...86_400_000)))
            content = .unpublished(
                UnpublishedPackage(
                    name: name,
                    created: package.created,
                    modified: unpublishedAt,
                    versionTimes: package.versions.map { ($0.version, $0.publishedAt) },
                    maintainers: package.maintainers
                )
            )
        }
        return RegistryModel.InitialPackage(name: name, content: content, generation: generation, rev: nil)
    }

    /// Publishes `version` into `package`: moves `latest` (or `next` for prereleases).
    static func appendVersion(
        _ version: String,
        to package: inout GeneratedPackage,
        at time: Timestamp,
        payloadBytes: Int,
        dependencyPool: [String],
        dependencyRanges: [String: String]? = nil,
        random: inout SplitMix64
    ) {
        var dependencies: [Dependency] = []
        if !dependencyPool.isEmpty {
            for _ in 0..<random.int(in: 0...4) {
                let dependency = random.pick(dependencyPool)
                if dependency != package.name && !dependencies.contains(where: { $0.name == dependency }) {
                    let range = "^\(random.int(in: 0...4)).\(random.int(in: 0...9)).0"
                    dependencies.append(Dependency(name: dependency, range: dependencyRanges?[dependency] ?? range))
                }
            }
        }
        let devDependencies = random.chance(0.5) ? [Dependency(name: "mocha", range: "^10.2.0")] : []
        let record = VersionRecord(
            version: version,
            publishedAt: time,
            dependencies: dependencies,
            devDependencies: devDependencies,
            deprecated: random.chance(0.03) ? "this version has a known bug, please upgrade" : nil,
            tarball: TarballSpec(
                packageName: package.name,
                version: version,
                description: package.description,
                seed: package.seed ^ UInt64(package.versions.count &* 0x9E37),
                sourceFiles: random.int(in: 1...4),
                payloadBytes: payloadBytes
            )
        )
        package.versions.append(record)
        package.modified = time
        if version.contains("-") {
            package.setDistTag("next", to: version)
            if package.distTag("latest") == nil { package.setDistTag("latest", to: version) }
        } else {
            package.setDistTag("latest", to: version)
        }
    }

    static func nextVersion(after previous: String?, random: inout SplitMix64) -> String {
        guard let previous else {
            return random.chance(0.5) ? "1.0.0" : "0.1.0"
        }
        let core = previous.split(separator: "-").first.map(String.init) ?? previous
        let parts = core.split(separator: ".").compactMap { Int($0) }
        var (major, minor, patch) = (parts[0], parts[1], parts[2])
        if previous.contains("-") {
            // A prerelease is followed by its release.
            return core
        }
        let roll = random.unit()
        if roll < 0.05 {
            major += 1; minor = 0; patch = 0
        } else if roll < 0.30 {
            minor += 1; patch = 0
        } else {
            patch += 1
        }
        if random.chance(0.04) {
            return "\(major).\(minor).\(patch)-beta.\(random.int(in: 0...3))"
        }
        return "\(major).\(minor).\(patch)"
    }
}

/// Names of generated packages worth testing against, by what makes them special.
public struct NotablePackages: Sendable, Hashable, Codable {
    /// `@scope/name` packages.
    public var scoped: [String] = []
    /// Names containing dots.
    public var dotted: [String] = []
    /// Names containing underscores.
    public var underscored: [String] = []
    /// Deleted documents (`deleted: true` in the feed, 404 from the registry).
    public var deleted: [String] = []
    /// Fully unpublished packages (served as the `time.unpublished` stub).
    public var unpublished: [String] = []
    /// Packages with 100 or more versions.
    public var longTail: [String] = []
    /// Packages whose latest tarball is 1 MB or more.
    public var largeTarballs: [String] = []
    /// Packages whose readme alone is 1 MB or more.
    public var largePackuments: [String] = []
    /// The package sized by `Configuration.hugePackumentBytes`, if any.
    public var hugePackument: String?
    /// The package whose only tarball is sized by `Configuration.hugeTarballBytes`, if any.
    public var hugeTarball: String?
    /// Published packages of the ordinary kind (a few versions, small tarballs).
    public var ordinary: [String] = []

    public init() {}

    mutating func record(_ package: RegistryModel.InitialPackage, profile: RegistryGenerator.Profile) {
        let name = package.name
        switch profile.fate {
        case .deleted: self.deleted.append(name); return
        case .unpublished: self.unpublished.append(name); return
        case .published: break
        }
        switch profile.nameStyle {
        case .scoped: self.scoped.append(name)
        case .dotted: self.dotted.append(name)
        case .underscored: self.underscored.append(name)
        case .plain: break
        }
        if profile.versionCount >= 100 { self.longTail.append(name) }
        if profile.latestPayloadBytes >= 1 << 20 { self.largeTarballs.append(name) }
        if profile.readmeBytes >= 1 << 20 { self.largePackuments.append(name) }
        if profile.versionCount <= 5 && profile.latestPayloadBytes == 0 && profile.readmeBytes < 1 << 20 {
            self.ordinary.append(name)
        }
    }
}
