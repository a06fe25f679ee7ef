import NPMNames
import Foundation
import MirrorRecords

/// `GET /-/v1/search?text=&size=&from=` in npm's shape (`objects[].package`, `score`,
/// `searchScore`, `total`, `time`), over the record store's package records. Packages are matched in
/// the record store (every word of `text` must occur in the name or the description; case does not
/// matter); a result's description, keywords, version, date, publisher and maintainers come from the
/// package's served index (derived once per revision, like the documents).
struct PackageSearch: Sendable {
    /// npm's bounds: `size` 1...250 (default 20), `from` ≥ 0.
    static let maximumSize = 250
    /// The most candidates a search ranks.
    static let maximumCandidates = 5_000

    struct Query: Sendable, Equatable {
        var words: [String]
        var size: Int
        var from: Int
    }

    /// Reads `text`, `size` and `from`; a clear error for values npm would refuse.
    static func query(from items: [(name: String, value: String)]) -> Result<Query, RouteRejection> {
        var query = Query(words: [], size: 20, from: 0)
        for (name, value) in items {
            switch name {
            case "text":
                query.words = value.lowercased().split(whereSeparator: { $0 == " " || $0 == "+" }).map(String.init)
                guard value.utf8.count <= 1024 else { return .failure(.badRequest("text is longer than 1024 bytes")) }
            case "size":
                guard let size = Int(value), (1...maximumSize).contains(size) else {
                    return .failure(.badRequest("size must be an integer from 1 to \(maximumSize), got '\(value.prefix(40))'"))
                }
                query.size = size
            case "from":
                guard let from = Int(value), from >= 0 else { return .failure(.badRequest("from must be a non-negative integer, got '\(value.prefix(40))'")) }
                query.from = from
            default:
                continue  // quality, popularity, maintenance: weights npm's own search uses
            }
        }
        return .success(query)
    }

    let source: any PackageMatching

    /// The matching names, best first: exact name, then names starting with the text, then names
    /// holding every word, then packages whose description holds the words the name lacks; each
    /// tier in name order.
    func rank(_ query: Query) async throws -> [String] {
        let first = query.words.first ?? ""
        let candidates = try await source.packageRecords(matching: first, limit: Self.maximumCandidates)
        let text = query.words.joined(separator: " ")
        func tier(_ record: StoredRecord) -> Int? {
            let name = record.id.lowercased()
            let basename = PackageName.basename(name)
            if name == text || basename == text { return 0 }
            if name.hasPrefix(text) || basename.hasPrefix(text) { return 1 }
            if query.words.allSatisfy({ name.contains($0) }) { return 2 }
            return query.words.allSatisfy({ record.matches($0) }) ? 3 : nil
        }
        return candidates.compactMap { record in tier(record).map { ($0, record.id) } }
            .sorted { $0 < $1 }
            .map(\.1)
    }

    /// One result object from a package's served index.
    static func object(_ index: DocumentIndex, tarballBase: String, rank: Int, total: Int) -> JSONValue {
        var package = index.summary
        var links = package["links"]?.objectValue ?? [:]
        links["npm"] = .string(tarballBase + "/" + RegistryPaths.packagePath(index.name))
        package["links"] = .object(links)
        // Scores are the rank, scaled to 0...1 (the mirror has no popularity or quality data).
        let score = total > 0 ? 1 - Double(rank) / Double(total + 1) : 1
        return .object([
            "package": .object(package),
            "score": .object([
                "final": .number(score),
                "detail": .object(["quality": .number(score), "popularity": .number(score), "maintenance": .number(score)]),
            ]),
            "searchScore": .number(score),
        ])
    }

    static func body(objects: [JSONValue], total: Int, now: Date = Date()) -> [UInt8] {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return JSONValue.object([
            "objects": .array(objects),
            "total": .number(Double(total)),
            "time": .string(formatter.string(from: now)),
        ]).serializedBytes
    }
}
