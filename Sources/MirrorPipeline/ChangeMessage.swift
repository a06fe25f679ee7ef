import Foundation
import NPMRegistry

/// The value of one message on the changes topic: a change as the feed gave it, and when it was read.
///
/// ```json
/// {"seq":1234,"id":"@scope/name","rev":"3-abc…","deleted":false,"read_at":"2026-11-23T19:00:00.123Z"}
/// ```
/// The message key is the package name, so all changes of a package go to one partition, in order.
public struct ChangeMessage: Sendable, Hashable, Codable {
    public var seq: Int64
    public var id: String
    public var rev: String?
    public var deleted: Bool
    /// When the producer read the change from the feed (ISO 8601, UTC, milliseconds).
    public var readAt: String

    enum CodingKeys: String, CodingKey {
        case seq, id, rev, deleted
        case readAt = "read_at"
    }

    public init(seq: Int64, id: String, rev: String?, deleted: Bool, readAt: String) {
        self.seq = seq
        self.id = id
        self.rev = rev
        self.deleted = deleted
        self.readAt = readAt
    }

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
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Decodes a message value; throws a `DecodingError` naming the bad field.
    public static func decode(_ bytes: [UInt8]) throws -> ChangeMessage {
        try JSONDecoder().decode(ChangeMessage.self, from: Data(bytes))
    }
}

/// JSON text helpers.
enum JSONText {
    /// Appends `text` as a JSON string literal (quotes and escapes included).
    static func appendString(_ text: String, to out: inout [UInt8]) {
        out.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): out += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): out += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: out += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: out += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: out += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0..<0x20:
                let hex = Array("0123456789abcdef".utf8)
                out += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0"), hex[Int(byte >> 4)], hex[Int(byte & 0xF)]]
            default: out.append(byte)
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}

/// Timestamps as the pipeline writes them.
enum Timestamp {
    static func now() -> String {
        Date().formatted(.iso8601.year().month().day().time(includingFractionalSeconds: true).timeZone(separator: .omitted))
    }
}
