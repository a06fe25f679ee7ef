import MirrorJSON
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
        let outcome = JSONScanner.withBytes(of: body) { buffer in
            Result { () throws(JSONScanner.Failure) in try ChangesPageScanner.scan(buffer) }
        }
        let scanned: (results: [Entry], lastSeq: Int64?)
        switch outcome {
        case .success(let value): scanned = value
        case .failure(let failure): throw PageParseError(message: failure.message)
        }
        var changes: [FeedChange] = []
        var skipped: [SkippedFeedResult] = []
        changes.reserveCapacity(scanned.results.count)
        for result in scanned.results {
            switch result {
            case .change(let change): changes.append(change)
            case .skipped(let entry): skipped.append(entry)
            }
        }
        let lastSeq = scanned.lastSeq ?? changes.map(\.seq).max() ?? since
        return ChangesPage(changes: changes, skipped: skipped, lastSeq: lastSeq)
    }

    /// One element of `results`: a change, or why it was set aside.
    enum Entry {
        case change(FeedChange)
        case skipped(SkippedFeedResult)
    }

    /// A seq as the 2025 API sends it (an integer), or as older CouchDB feeds did (a string whose
    /// integer prefix is the seq, `"123-g1AAA…"`); nil for anything else.
    struct Seq: Decodable {
        var value: Int64?

        /// The seq of an older feed's string seq: its integer prefix.
        static func value(ofText text: String) -> Int64? {
            let digits = text.prefix { $0.isASCII && $0.isNumber }
            return digits.isEmpty ? nil : Int64(digits)
        }

        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let integer = try? container.decode(Int64.self) {
                value = integer >= 0 ? integer : nil
            } else if let text = try? container.decode(String.self) {
                value = Self.value(ofText: text)
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
