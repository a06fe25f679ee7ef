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
    ///
    /// Decoded with `JSONDecoder` straight into these types: pages hold up to 10,000 results, and
    /// building a `JSONSerialization` object tree first cost the producer more than everything else.
    public static func parse(_ body: some Collection<UInt8>, since: Int64) throws(PageParseError) -> ChangesPage {
        let page: Body
        do {
            page = try JSONDecoder().decode(Body.self, from: Data(body))
        } catch let DecodingError.dataCorrupted(context) where context.codingPath.isEmpty {
            throw PageParseError(message: "not JSON: \((context.underlyingError as? NSError)?.userInfo[NSDebugDescriptionErrorKey] as? String ?? context.debugDescription)")
        } catch let DecodingError.typeMismatch(_, context) where context.codingPath.isEmpty {
            throw PageParseError(message: "not a JSON object")
        } catch let DecodingError.keyNotFound(key, context) where context.codingPath.isEmpty && key.stringValue == "results" {
            throw PageParseError(message: "no \"results\" array")
        } catch {
            throw PageParseError(message: "not a changes page: \(error)")
        }
        var changes: [FeedChange] = []
        var skipped: [SkippedFeedResult] = []
        changes.reserveCapacity(page.results.count)
        for result in page.results {
            switch result {
            case .change(let change): changes.append(change)
            case .skipped(let entry): skipped.append(entry)
            }
        }
        let lastSeq = page.lastSeq?.value ?? changes.map(\.seq).max() ?? since
        return ChangesPage(changes: changes, skipped: skipped, lastSeq: lastSeq)
    }

    private struct Body: Decodable {
        var results: [Result]
        var lastSeq: Seq?

        enum CodingKeys: String, CodingKey {
            case results
            case lastSeq = "last_seq"
        }
    }

    /// One element of `results`: a change, or why it was set aside.
    private enum Result: Decodable {
        case change(FeedChange)
        case skipped(SkippedFeedResult)

        private enum Keys: String, CodingKey {
            case seq, id, changes, deleted
        }

        private struct Revision: Decodable {
            var rev: String?
        }

        init(from decoder: any Decoder) throws {
            guard let entry = try? decoder.container(keyedBy: Keys.self) else {
                self = .skipped(SkippedFeedResult(reason: "not_an_object", excerpt: Self.scalarText(decoder)))
                return
            }
            let id = try? entry.decodeIfPresent(String.self, forKey: .id)
            let seq = (try? entry.decodeIfPresent(Seq.self, forKey: .seq))?.value
            guard let id, !id.isEmpty else {
                self = .skipped(SkippedFeedResult(reason: "missing_id", excerpt: "{\"seq\": \(seq.map(String.init) ?? "?")}"))
                return
            }
            guard let seq else {
                self = .skipped(SkippedFeedResult(reason: "missing_seq", excerpt: "{\"id\": \(Self.quoted(id))}"))
                return
            }
            let rev = (try? entry.decodeIfPresent([Revision].self, forKey: .changes))?.first?.rev
            let deleted = (try? entry.decodeIfPresent(Bool.self, forKey: .deleted)) ?? false
            self = .change(FeedChange(seq: seq, id: id, rev: rev, deleted: deleted))
        }

        private static func scalarText(_ decoder: any Decoder) -> String {
            guard let value = try? decoder.singleValueContainer() else { return "?" }
            if value.decodeNil() { return "null" }
            if let number = try? value.decode(Double.self) { return "\(number)" }
            if let flag = try? value.decode(Bool.self) { return "\(flag)" }
            if let text = try? value.decode(String.self) { return quoted(text) }
            return "[…]"
        }

        private static func quoted(_ text: String) -> String {
            "\"" + (text.count > 200 ? String(text.prefix(200)) + "…" : text) + "\""
        }
    }

    /// A seq as the 2025 API sends it (an integer), or as older CouchDB feeds did (a string whose
    /// integer prefix is the seq, `"123-g1AAA…"`); nil for anything else.
    struct Seq: Decodable {
        var value: Int64?

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let integer = try? container.decode(Int64.self) {
                value = integer >= 0 ? integer : nil
            } else if let text = try? container.decode(String.self) {
                let digits = text.prefix { $0.isASCII && $0.isNumber }
                value = digits.isEmpty ? nil : Int64(digits)
            } else {
                value = nil
            }
        }
    }
}

/// A `_changes` or root body that is not what the API sends.
public struct PageParseError: Error, Sendable, CustomStringConvertible {
    public let message: String
    public var description: String { message }
}
