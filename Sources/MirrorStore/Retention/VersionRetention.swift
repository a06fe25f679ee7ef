import Foundation

/// Which versions of a package to keep when the mirror is limited to the newest N.
public enum VersionRetention {
    /// The newest `limit` versions by publication time (`time[version]`), plus
    /// `dist-tags.latest` always (when it is one of `versions`).
    ///
    /// Versions without a parseable time count as the oldest; equal times are ordered by version
    /// string, descending, so the result is deterministic. Keys of `time` that are not versions
    /// (`created`, `modified`, unpublished versions) are ignored. A `limit` of nil keeps all.
    public static func versionsToKeep(
        versions: some Sequence<String>,
        time: [String: String],
        latest: String?,
        limit: Int?
    ) -> Set<String> {
        let all = Set(versions)
        guard let limit else { return all }
        let dated = all.map { (version: $0, date: time[$0].flatMap(parseDate)) }
        let newestFirst = dated.sorted { a, b in
            switch (a.date, b.date) {
            case let (x?, y?) where x != y: return x > y
            case (_?, nil): return true
            case (nil, _?): return false
            default: return a.version > b.version
            }
        }
        var keep = Set(newestFirst.prefix(max(0, limit)).map(\.version))
        if let latest, all.contains(latest) { keep.insert(latest) }
        return keep
    }

    /// The same, reading `versions`, `time` and `dist-tags.latest` from packument JSON.
    ///
    /// - Throws: `DecodingError`/`CocoaError` when the JSON is not an object.
    public static func versionsToKeep(packumentJSON: some Collection<UInt8>, limit: Int?) throws -> Set<String> {
        let object = try JSONSerialization.jsonObject(with: Data(packumentJSON))
        guard let packument = object as? [String: Any] else {
            throw StoreError.corruptStoredFile("packument is not a JSON object")
        }
        let versions = (packument["versions"] as? [String: Any]).map { Array($0.keys) } ?? []
        let time = (packument["time"] as? [String: Any])?.compactMapValues { $0 as? String } ?? [:]
        let latest = (packument["dist-tags"] as? [String: Any])?["latest"] as? String
        return versionsToKeep(versions: versions, time: time, latest: latest, limit: limit)
    }

    /// A registry time (`2024-05-01T12:00:00.000Z`, with or without fractional seconds); nil when it
    /// is not one.
    public static func parseDate(_ text: String) -> Date? {
        if let date = try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)) { return date }
        return try? Date(text, strategy: Date.ISO8601FormatStyle())
    }
}
