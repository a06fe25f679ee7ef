import Foundation
import MirrorRecords

/// `GET /-/v1/search?text=&size=&from=` in npm's shape (`objects[].package`, `score`,
/// `searchScore`, `total`, `time`), over the record store's package records. Names are matched in
/// the record store (every word of `text` must occur in the name; case does not matter); a result's
/// description, keywords, version, date, publisher and maintainers come from the package's served
/// index (derived once per revision, like the documents).
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

    let records: any RecordStore

    /// The matching names, best first: exact name, then names starting with the text, then others,
    /// each in name order.
    func rank(_ query: Query) async throws -> [String] {
        let first = query.words.first ?? ""
        let candidates = try await records.packageRecords(nameContaining: first, limit: Self.maximumCandidates)
        let names = candidates.map(\.id).filter { name in
            let lowered = name.lowercased()
            return query.words.allSatisfy { lowered.contains($0) }
        }
        let text = query.words.joined(separator: " ")
        func tier(_ name: String) -> Int {
            let lowered = name.lowercased()
            if lowered == text || RegistryPaths.basename(of: lowered) == text { return 0 }
            if lowered.hasPrefix(text) || RegistryPaths.basename(of: lowered).hasPrefix(text) { return 1 }
            return 2
        }
        return names.sorted { (tier($0), $0) < (tier($1), $1) }
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
