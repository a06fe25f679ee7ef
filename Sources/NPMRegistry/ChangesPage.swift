import Foundation

/// The replicate service's root document: `GET {replicate}/`.
public struct ReplicateRoot: Sendable, Hashable {
    public var updateSeq: Int64
    public var docCount: Int64?
}

/// One change from the feed: a document (package) id at a seq, with its new rev.
public struct FeedChange: Sendable, Hashable, Codable {
    public var seq: Int64
    /// The package name.
    public var id: String
    /// The document's rev after the change (`changes[0].rev`), if the feed gave one.
    public var rev: String?
    /// The document was deleted.
    public var deleted: Bool

    public init(seq: Int64, id: String, rev: String?, deleted: Bool) {
        self.seq = seq
        self.id = id
        self.rev = rev
        self.deleted = deleted
    }
}

/// A result the feed sent that cannot become a change, and why.
public struct SkippedFeedResult: Sendable, Hashable {
    /// Bounded reason, usable as a metric label: `missing_id`, `missing_seq`.
    public var reason: String
    /// The result as the feed sent it (truncated), for the log.
    public var excerpt: String
}

/// One page of `GET {replicate}/registry/_changes?since=N&limit=L`.
public struct ChangesPage: Sendable, Hashable {
    public var changes: [FeedChange]
    public var skipped: [SkippedFeedResult]
    /// `last_seq`: where the next page starts.
    public var lastSeq: Int64

    /// Parses a page. A page that is not a JSON object with a `results` array throws; a single result
    /// without a usable `id` or `seq` is set aside in ``skipped`` and the rest of the page is kept.
    public static func parse(_ body: some Collection<UInt8>, since: Int64) throws(PageParseError) -> ChangesPage {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(body))
        } catch {
            throw PageParseError(message: "not JSON: \((error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)")")
        }
        guard let page = object as? [String: Any] else { throw PageParseError(message: "not a JSON object") }
        guard let results = page["results"] as? [Any] else { throw PageParseError(message: "no \"results\" array") }
        var changes: [FeedChange] = []
        var skipped: [SkippedFeedResult] = []
        changes.reserveCapacity(results.count)
        for result in results {
            guard let entry = result as? [String: Any] else {
                skipped.append(SkippedFeedResult(reason: "not_an_object", excerpt: excerpt(result)))
                continue
            }
            guard let id = entry["id"] as? String, !id.isEmpty else {
                skipped.append(SkippedFeedResult(reason: "missing_id", excerpt: excerpt(entry)))
                continue
            }
            guard let seq = seqValue(entry["seq"]) else {
                skipped.append(SkippedFeedResult(reason: "missing_seq", excerpt: excerpt(entry)))
                continue
            }
            let rev = ((entry["changes"] as? [Any])?.first as? [String: Any])?["rev"] as? String
            let deleted = (entry["deleted"] as? Bool) ?? false
            changes.append(FeedChange(seq: seq, id: id, rev: rev, deleted: deleted))
        }
        let lastSeq = seqValue(page["last_seq"]) ?? changes.map(\.seq).max() ?? since
        return ChangesPage(changes: changes, skipped: skipped, lastSeq: lastSeq)
    }

    /// A seq as the 2025 API sends it (an integer), or as older CouchDB feeds did (a string whose
    /// integer prefix is the seq, `"123-g1AAA…"`).
    static func seqValue(_ value: Any?) -> Int64? {
        switch value {
        case let number as NSNumber:
            let double = number.doubleValue
            guard double >= 0, double < 9.0e18, double == double.rounded() else { return nil }
            return number.int64Value
        case let text as String:
            let digits = text.prefix { $0.isASCII && $0.isNumber }
            return digits.isEmpty ? nil : Int64(digits)
        default:
            return nil
        }
    }

    private static func excerpt(_ value: Any) -> String {
        let text: String
        if JSONSerialization.isValidJSONObject(value), let data = try? JSONSerialization.data(withJSONObject: value) {
            text = String(decoding: data, as: UTF8.self)
        } else {
            text = String(describing: value)
        }
        return text.count > 200 ? String(text.prefix(200)) + "…" : text
    }
}

/// A `_changes` or root body that is not what the API sends.
public struct PageParseError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
