import Foundation

/// The tables of an export, their columns and where each comes from: one definition that the
/// writers (SQLite, CSV), the checker and `docs/export.md` all follow.
public enum ExportTable: String, CaseIterable, Codable, Sendable {
    case packages
    case versions
    case dependencies
    case maintainers
    case changes

    /// The version of this schema, in every manifest: a column added, removed or changed in meaning
    /// makes a new version.
    public static let schemaVersion = 1

    public var columns: [ExportColumn] {
        switch self {
        case .packages:
            [
                .init("name", .text, nullable: false, "the package's name (the record's id)"),
                .init("scope", .text, "`@scope` of a scoped name"),
                .init("state", .text, nullable: false, "`normal`, `deleted` (a deletion in the feed), `unpublished` (`time.unpublished`) or `security_holder` (npm's placeholder, `0.0.1-security`)"),
                .init("created", .timestamp, "`time.created`"),
                .init("modified", .timestamp, "`time.modified`"),
                .init("latest", .text, "`dist-tags.latest`"),
                .init("dist_tags", .text, "`dist-tags`, as a JSON object"),
                .init("description", .text, "`description`"),
                .init("license", .text, "`license` of the latest version (`license`, `license.type` or `licenses[].type` joined by ` OR `)"),
                .init("repository_url", .text, "`repository.url` (or `repository` when a string) of the latest version, else of the packument"),
                .init("deprecated", .boolean, "every version has `deprecated` set"),
                .init("version_count", .integer, nullable: false, "versions in the packument"),
                .init("first_seen_seq", .integer, "the lowest feed seq among the package's change records"),
                .init("last_seq", .integer, "the feed seq of the change the record was last written for"),
                .init("packument_rev", .text, "the stored packument revision every row of this package comes from"),
            ]
        case .versions:
            [
                .init("name", .text, nullable: false, "the package"),
                .init("version", .text, nullable: false, "the key in `versions`"),
                .init("major", .integer, "semver major (null when the version is not semver)"),
                .init("minor", .integer, "semver minor"),
                .init("patch", .integer, "semver patch"),
                .init("prerelease", .text, "semver prerelease, without the `-`"),
                .init("published_at", .timestamp, "`time[version]`"),
                .init("deprecated", .text, "`deprecated`: the message"),
                .init("license", .text, "`license` (`license.type`, `licenses[].type` joined by ` OR `)"),
                .init("integrity", .text, "`dist.integrity`"),
                .init("shasum", .text, "`dist.shasum`"),
                .init("file_count", .integer, "`dist.fileCount`"),
                .init("unpacked_size", .integer, "`dist.unpackedSize` (bytes)"),
                .init("has_install_scripts", .boolean, nullable: false, "`scripts` has `preinstall`, `install` or `postinstall` (or `hasInstallScript` is true)"),
                .init("engines_node", .text, "`engines.node`"),
                .init("publisher", .text, "`_npmUser.name`"),
                .init("signature_verdict", .text, "the registry signature's verdict when the consumer checked it: `verified`, `missing`, `unknown_key`, `expired_key`, `invalid`"),
                .init("provenance_verdict", .text, "the attestations' verdict: `verified`, `present_unverified`, `invalid`, `missing`"),
                .init("provenance_repository", .text, "the source repository named by the SLSA provenance statement"),
                .init("provenance_commit", .text, "the commit it was built from"),
                .init("provenance_workflow", .text, "the workflow file that built it"),
                .init("tarball_held", .boolean, nullable: false, "the mirror holds the tarball"),
                .init("tarball_bytes", .integer, "the held tarball's size"),
            ]
        case .dependencies:
            [
                .init("name", .text, nullable: false, "the depending package"),
                .init("version", .text, nullable: false, "its version"),
                .init("kind", .text, nullable: false, "`prod` (`dependencies`), `dev`, `peer`, `optional`, `bundled` (`bundleDependencies`)"),
                .init("dependency", .text, nullable: false, "the name depended on, as written"),
                .init("spec", .text, "the spec as written (null for a bundled name with no spec)"),
                .init("spec_type", .text, nullable: false, "`range`, `tag`, `version`, `git`, `remote`, `alias`, `file`, `directory`, `workspace` or `invalid`"),
                .init("alias_target", .text, "for `npm:name@spec`: `name`"),
                .init("peer_optional", .boolean, "for `peer`: `peerDependenciesMeta[dependency].optional`"),
            ]
        case .maintainers:
            [
                .init("name", .text, nullable: false, "the package"),
                .init("maintainer", .text, nullable: false, "`maintainers[].name`"),
                .init("email", .text, "`maintainers[].email`: SHA-256 (hex) of the address trimmed and lower-cased, or the address with `--emails plain`"),
            ]
        case .changes:
            [
                .init("seq", .integer, "the feed seq (null for a change `npm-mirror reconcile` sent)"),
                .init("name", .text, nullable: false, "the package the change names"),
                .init("rev", .text, "the packument revision the change announced"),
                .init("deleted", .boolean, nullable: false, "the change was a deletion"),
                .init("observed_at", .timestamp, "when the producer read the change"),
                .init("outcome", .text, "what the consumer did: `stored`, `deleted`, `unpublished`, `skipped`, `dead_lettered`, …"),
                .init("source", .text, "`feed` or `reconcile`"),
            ]
        }
    }

    /// Every table's columns as Markdown tables (for `docs/export.md`, which a test keeps equal).
    public static var markdown: String {
        allCases.map { table in
            var lines = ["### `\(table.rawValue)`", "", "| column | type | null | from |", "| --- | --- | --- | --- |"]
            for column in table.columns {
                let source = column.source.replacingOccurrences(of: "|", with: "\\|")
                lines.append("| `\(column.name)` | \(column.kind.rawValue) | \(column.nullable ? "yes" : "no") | \(source) |")
            }
            return lines.joined(separator: "\n")
        }.joined(separator: "\n\n")
    }

    /// The columns the SQLite export indexes (the join keys).
    public var indexedColumns: [[String]] {
        switch self {
        case .packages: [["name"]]
        case .versions: [["name", "version"]]
        case .dependencies: [["name", "version"], ["dependency"]]
        case .maintainers: [["name"], ["maintainer"]]
        case .changes: [["seq"], ["name"]]
        }
    }
}

/// One column: its name, type, whether it may be null, and where its value comes from.
public struct ExportColumn: Sendable, Equatable {
    public enum Kind: String, Sendable, Codable {
        case text
        case integer
        case boolean
        /// A point in time, UTC, to the microsecond: ISO 8601 text in SQLite and CSV.
        case timestamp
    }

    public var name: String
    public var kind: Kind
    public var nullable: Bool
    public var source: String

    init(_ name: String, _ kind: Kind, nullable: Bool = true, _ source: String) {
        self.name = name
        self.kind = kind
        self.nullable = nullable
        self.source = source
    }
}

/// One value of a row, in its column's kind (or null).
public enum ExportValue: Sendable, Equatable, Hashable {
    case null
    case text(String)
    case integer(Int64)
    case boolean(Bool)
    /// Microseconds since 1970-01-01T00:00:00Z.
    case timestamp(Int64)

    /// The value as CSV and SQLite write it: timestamps in ISO 8601 with milliseconds (microseconds
    /// when they are not whole milliseconds), booleans as `true`/`false`; nil for null.
    public var text: String? {
        switch self {
        case .null: nil
        case .text(let text): text
        case .integer(let number): String(number)
        case .boolean(let value): value ? "true" : "false"
        case .timestamp(let micros): Timestamp.format(micros: micros)
        }
    }
}

/// One row: values in the order of its table's columns.
public typealias ExportRow = [ExportValue]

/// How maintainers' addresses are written.
public enum ExportEmails: String, Sendable, Codable, CaseIterable {
    /// SHA-256 (hex) of the address trimmed and lower-cased: joinable, not republished.
    case hashed
    case plain
}
