import Crypto
import MirrorJSON
import MirrorSignatures

/// The rows one package gives every table but `changes`: read from its record (verdicts, what the
/// mirror holds, seqs) and the stored packument of the revision the record names, so all of a
/// package's rows come from one revision. A pure function of its inputs.
struct PackageRows: Sendable {
    var packages: [ExportRow] = []
    var versions: [ExportRow] = []
    var dependencies: [ExportRow] = []
    var maintainers: [ExportRow] = []

    var count: Int { packages.count + versions.count + dependencies.count + maintainers.count }

    /// No rows (a batch to append packages' rows to).
    init() {}

    typealias Emails = ExportEmails

    /// What the store says of one held version's provenance statement (repository, commit, workflow).
    typealias ProvenanceSource = ProvenanceStatement.Source

    /// - Parameters:
    ///   - record: the package record's body.
    ///   - packument: the stored packument of `record.packument_rev` (nil for a deleted package, or
    ///     when the store holds none): the package row is still written, from the record.
    ///   - firstSeenSeq: the lowest seq among the package's change records.
    ///   - provenance: the statement's source for a version, when its attestations are stored.
    init(
        name: String, record: [String: JSONValue], packument: [String: JSONValue]?, firstSeenSeq: Int64?, emails: Emails,
        provenance: (String) -> ProvenanceSource? = { _ in nil }
    ) {
        let versions = packument?["versions"]?.objectValue ?? [:]
        let times = packument?["time"]?.objectValue ?? [:]
        let distTags = packument?["dist-tags"]?.objectValue ?? [:]
        let latestName = distTags["latest"]?.stringValue
        let latest = latestName.flatMap { versions[$0]?.objectValue }

        let state: String
        if record["deleted"]?.boolValue == true {
            state = "deleted"
        } else if record["unpublished"]?.boolValue == true || times["unpublished"] != nil {
            state = "unpublished"
        } else if latestName.map({ $0.hasSuffix("-security") }) == true && versions.count == 1 {
            state = "security_holder"
        } else {
            state = "normal"
        }
        let allDeprecated = !versions.isEmpty && versions.values.allSatisfy { ($0["deprecated"]?.stringValue).map { !$0.isEmpty } ?? false }
        packages.append([
            .text(name),
            name.hasPrefix("@") ? name.split(separator: "/").first.map { .text(String($0)) } ?? .null : .null,
            .text(state),
            Self.time(times["created"]),
            Self.time(times["modified"]),
            latestName.map(ExportValue.text) ?? .null,
            distTags.isEmpty ? .null : .text(JSONValue.object(distTags).serialized),
            Self.text(packument?["description"] ?? record["description"]),
            Self.license(latest ?? packument ?? [:]),
            Self.repository(latest?["repository"] ?? packument?["repository"]),
            .boolean(allDeprecated),
            .integer(Int64(versions.count)),
            firstSeenSeq.map(ExportValue.integer) ?? .null,
            record["last_seq"]?.intValue.map { .integer(Int64($0)) } ?? .null,
            Self.text(record["packument_rev"]),
        ])

        let stored = record["stored_versions"]?.objectValue ?? [:]
        let signatures = record["signatures"]?.objectValue ?? [:]
        let provenanceVerdicts = record["provenance"]?.objectValue ?? [:]
        for (version, value) in versions.sorted(by: { $0.key < $1.key }) {
            guard let manifest = value.objectValue else { continue }
            let semver = Semver.parse(version)
            let dist = manifest["dist"]?.objectValue ?? [:]
            let scripts = manifest["scripts"]?.objectValue ?? [:]
            let installScripts = ["preinstall", "install", "postinstall"].contains { scripts[$0] != nil } || manifest["hasInstallScript"]?.boolValue == true
            let held = stored[version]?.objectValue
            let source = provenance(version)
            self.versions.append([
                .text(name),
                .text(version),
                semver.map { .integer($0.major) } ?? .null,
                semver.map { .integer($0.minor) } ?? .null,
                semver.map { .integer($0.patch) } ?? .null,
                semver?.prerelease.map(ExportValue.text) ?? .null,
                Self.time(times[version]),
                Self.text(manifest["deprecated"]),
                Self.license(manifest),
                Self.text(dist["integrity"]),
                Self.text(dist["shasum"]),
                Self.integer(dist["fileCount"]),
                Self.integer(dist["unpackedSize"]),
                .boolean(installScripts),
                Self.text(manifest["engines"]?["node"]),
                Self.text(manifest["_npmUser"]?["name"]),
                Self.text(signatures[version]),
                Self.text(provenanceVerdicts[version]?["verdict"]),
                source?.repository.map(ExportValue.text) ?? .null,
                source?.commit.map(ExportValue.text) ?? .null,
                source?.workflow.map(ExportValue.text) ?? .null,
                .boolean(held != nil),
                held.map { Self.integer($0["bytes"]) } ?? .null,
            ])

            let peerMeta = manifest["peerDependenciesMeta"]?.objectValue ?? [:]
            for (field, kind) in [("dependencies", "prod"), ("devDependencies", "dev"), ("peerDependencies", "peer"), ("optionalDependencies", "optional")] {
                for (dependency, spec) in (manifest[field]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
                    let written = spec.stringValue
                    let classified = written.map(DependencySpec.classify) ?? DependencySpec(kind: .invalid)
                    dependencies.append([
                        .text(name), .text(version), .text(kind), .text(dependency),
                        written.map(ExportValue.text) ?? .null,
                        .text(classified.kind.rawValue),
                        classified.aliasTarget.map(ExportValue.text) ?? .null,
                        kind == "peer" ? .boolean(peerMeta[dependency]?["optional"]?.boolValue == true) : .null,
                    ])
                }
            }
            // `bundleDependencies` (or `bundledDependencies`): names, or `true` for every dependency.
            let bundled = manifest["bundleDependencies"] ?? manifest["bundledDependencies"]
            let prod = manifest["dependencies"]?.objectValue ?? [:]
            var bundledNames: [String] = bundled?.arrayValue?.compactMap(\.stringValue) ?? []
            if bundled?.boolValue == true { bundledNames = prod.keys.sorted() }
            for dependency in bundledNames {
                let written = prod[dependency]?.stringValue
                let classified = written.map(DependencySpec.classify)
                dependencies.append([
                    .text(name), .text(version), .text("bundled"), .text(dependency),
                    written.map(ExportValue.text) ?? .null,
                    .text(classified?.kind.rawValue ?? DependencySpec.Kind.invalid.rawValue),
                    classified?.aliasTarget.map(ExportValue.text) ?? .null,
                    .null,
                ])
            }
        }

        var seen = Set<String>()
        for maintainer in packument?["maintainers"]?.arrayValue ?? [] {
            // Objects `{name, email}`; old packuments also have `"name <email>"` strings.
            var maintainerName = maintainer["name"]?.stringValue
            var email = maintainer["email"]?.stringValue
            if maintainerName == nil, let text = maintainer.stringValue {
                let parts = text.split(separator: "<", maxSplits: 1)
                maintainerName = parts.first.map { String($0).trimmingSpaces }
                email = parts.count == 2 ? String(parts[1].prefix { $0 != ">" }).trimmingSpaces : nil
            }
            guard let maintainerName, !maintainerName.isEmpty, seen.insert(maintainerName).inserted else { continue }
            maintainers.append([.text(name), .text(maintainerName), email.map { .text(Self.email($0, emails)) } ?? .null])
        }
    }

    static func email(_ address: String, _ emails: Emails) -> String {
        switch emails {
        case .plain: address
        case .hashed: Hex.encode(SHA256.hash(data: Array(address.trimmingSpaces.lowercased().utf8)))
        }
    }

    static func text(_ value: JSONValue?) -> ExportValue {
        value?.stringValue.map(ExportValue.text) ?? .null
    }

    static func integer(_ value: JSONValue?) -> ExportValue {
        guard let number = value?.numberValue, number.isFinite, number == number.rounded(), abs(number) < 9e15 else { return .null }
        return .integer(Int64(number))
    }

    static func time(_ value: JSONValue?) -> ExportValue {
        value?.stringValue.flatMap(Timestamp.parse).map(ExportValue.timestamp) ?? .null
    }

    /// `license` as a string, `license.type`, or the types of a `licenses` array joined by ` OR `.
    static func license(_ manifest: [String: JSONValue]) -> ExportValue {
        if let text = manifest["license"]?.stringValue { return .text(text) }
        if let type = manifest["license"]?["type"]?.stringValue { return .text(type) }
        let types = (manifest["licenses"]?.arrayValue ?? []).compactMap { $0["type"]?.stringValue ?? $0.stringValue }
        return types.isEmpty ? .null : .text(types.joined(separator: " OR "))
    }

    /// `repository` as a string or its `url`; an empty one (`{"url": ""}` is common) is none.
    static func repository(_ value: JSONValue?) -> ExportValue {
        guard let url = value?.stringValue ?? value?["url"]?.stringValue, !url.isEmpty else { return .null }
        return .text(url)
    }
}
