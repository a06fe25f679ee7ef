import Foundation
import MirrorJSON
import NPMRegistry

/// The value of one message on the changes topic: a change as the feed gave it, and when it was read.
///
/// ```json
/// {"seq":1234,"id":"@scope/name","rev":"3-abc…","deleted":false,"read_at":"2026-11-23T19:00:00.123Z"}
/// ```
/// The message key is the package name, so all changes of a package go to one partition, in order.
/// A change that `npm-mirror reconcile` sends says so (`"seq":-1,…,"source":"reconcile"`).
public struct ChangeMessage: Sendable, Hashable {
    public var seq: Int64
    public var id: String
    public var rev: String?
    public var deleted: Bool
    /// When the producer read the change from the feed (ISO 8601, UTC, milliseconds).
    public var readAt: String
    /// Where the change comes from: the feed, or a reconciliation with the registry's list.
    public var source: Source

    /// Where a change comes from.
    public enum Source: String, Sendable, Hashable {
        /// The registry's changes feed: `seq` is the change's place in it.
        case feed
        /// `npm-mirror reconcile`: the registry lists the package at `rev` and the mirror does not hold
        /// it (or holds an older revision). It has no place in the feed: `seq` is -1, and it moves no
        /// checkpoint and no resume point.
        case reconcile
        /// A pin (`npm-mirror pin`, `PIN_DIRECTORY`): a lockfile names versions of the package, which the
        /// consumer keeps and fetches when missing. No place in the feed either (`seq` -1), no revision.
        case pin
    }

    public init(seq: Int64, id: String, rev: String?, deleted: Bool, readAt: String, source: Source = .feed) {
        self.seq = seq
        self.id = id
        self.rev = rev
        self.deleted = deleted
        self.readAt = readAt
        self.source = source
    }

    /// A change found by reconciliation: the package `id`, listed by the registry at `rev`.
    public static func reconciled(id: String, rev: String, at: String) -> ChangeMessage {
        ChangeMessage(seq: -1, id: id, rev: rev, deleted: false, readAt: at, source: .reconcile)
    }

    /// A change sent for a pin: the package `id`, some of whose versions a pin set names.
    public static func pinned(id: String, at: String) -> ChangeMessage {
        ChangeMessage(seq: -1, id: id, rev: nil, deleted: false, readAt: at, source: .pin)
    }

    /// The change's place in the feed; nil for one that has none (a reconciled change).
    public var feedSeq: Int64? { source == .feed && seq >= 0 ? seq : nil }

    public init(_ change: FeedChange, readAt: String) {
        self.init(seq: change.seq, id: change.id, rev: change.rev, deleted: change.deleted, readAt: readAt)
    }

    /// The JSON bytes, written directly (this is the producer's hot path).
    public var jsonBytes: [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(96 + id.utf8.count + (rev?.utf8.count ?? 0))
        out += Array(#"{"seq":"#.utf8)
        out += Array(String(seq).utf8)
        out += Array(#","id":"#.utf8)
        JSONText.appendString(id, to: &out)
        out += Array(#","rev":"#.utf8)
        if let rev { JSONText.appendString(rev, to: &out) } else { out += Array("null".utf8) }
        out += Array((deleted ? #","deleted":true"# : #","deleted":false"#).utf8)
        out += Array(#","read_at":"#.utf8)
        JSONText.appendString(readAt, to: &out)
        // A feed change (the hot path) says nothing of its source.
        if source != .feed { out += Array(#","source":"#.utf8) + Array("\"\(source.rawValue)\"".utf8) }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// A message value that is not a change message, and why.
    public struct DecodingFailure: Error, CustomStringConvertible {
        public let description: String
    }

    /// Decodes a message value in one pass; throws a ``DecodingFailure`` naming the bad field.
    public static func decode(_ bytes: [UInt8]) throws(DecodingFailure) -> ChangeMessage {
        do {
            return try bytes.withUnsafeBytes { raw throws(JSONScanner.Failure) in
                var scanner = JSONScanner(raw)
                var seq: Int64?
                var id: String?
                var rev: String?
                var deleted: Bool?
                var readAt: String?
                var source = Source.feed
                try scanner.readDocument { scanner throws(JSONScanner.Failure) in
                    try scanner.readObject { scanner, key throws(JSONScanner.Failure) in
                        switch key {
                        case "seq": seq = try scanner.readIntegerIfInteger()
                        case "id": id = try scanner.readStringIfString()
                        case "rev": rev = try scanner.readStringIfString()
                        case "deleted":
                            guard scanner.peek() == UInt8(ascii: "t") || scanner.peek() == UInt8(ascii: "f") else {
                                try scanner.skipValue()
                                return
                            }
                            deleted = try scanner.readTrueIfBoolean()
                        case "read_at": readAt = try scanner.readStringIfString()
                        case "source":
                            guard let text = try scanner.readStringIfString(), let known = Source(rawValue: text) else {
                                throw JSONScanner.Failure(message: "\"source\" is not \"feed\", \"reconcile\" or \"pin\"")
                            }
                            source = known
                        default: try scanner.skipValue()
                        }
                    }
                }
                guard let seq else { throw JSONScanner.Failure(message: "\"seq\" is missing or not an integer") }
                guard let id else { throw JSONScanner.Failure(message: "\"id\" is missing or not a string") }
                guard let deleted else { throw JSONScanner.Failure(message: "\"deleted\" is missing or not a boolean") }
                guard let readAt else { throw JSONScanner.Failure(message: "\"read_at\" is missing or not a string") }
                return ChangeMessage(seq: seq, id: id, rev: rev, deleted: deleted, readAt: readAt, source: source)
            }
        } catch let failure as JSONScanner.Failure {
            throw DecodingFailure(description: failure.message)
        } catch {
            throw DecodingFailure(description: "\(error)")
        }
    }
}

/// Timestamps as the pipeline writes them.
enum Timestamp {
    static func now() -> String {
        Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}
