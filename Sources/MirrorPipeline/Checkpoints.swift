import Foundation
import MirrorStore

/// The checkpoint files in `UPDATE_SEQ_DIR`, each written atomically (temporary file, fsync, rename),
/// so a crash leaves either the old or the new file, never a torn one.
///
/// - `update_seq.json`: `{"update_seq": N}` — the producer's last acknowledged seq (plus
///   `"feed_reset": true` once the producer has followed a seq reset to a lower head).
/// - `last_message.json`: the full last message the producer had acknowledged.
/// - `consumer.json`: the consumer's highest fully processed seq and its last message.
public struct CheckpointDirectory: Sendable {
    public let path: String

    public init(path: String) {
        self.path = path
    }

    /// The producer's checkpoint.
    public struct ProducerCheckpoint: Sendable, Hashable, Codable {
        public var updateSeq: Int64
        /// True once the producer followed the feed back to a lower head: this seq then wins over
        /// the (older, higher) seqs in the topic when resuming.
        public var feedReset: Bool?

        public init(updateSeq: Int64, feedReset: Bool? = nil) {
            self.updateSeq = updateSeq
            self.feedReset = feedReset
        }

        enum CodingKeys: String, CodingKey {
            case updateSeq = "update_seq"
            case feedReset = "feed_reset"
        }
    }

    /// Records an acknowledged page: `update_seq.json`, then `last_message.json`.
    public func writeProducer(_ checkpoint: ProducerCheckpoint, lastMessage: [UInt8]?) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try AtomicFile.write(try encoder.encode(checkpoint), to: file("update_seq.json"))
        if let lastMessage {
            try AtomicFile.write(Data(lastMessage), to: file("last_message.json"))
        }
    }

    /// The producer's checkpoint, or nil when there is none. A file that cannot be read as one is an
    /// error (it is not silently ignored: that could restart the mirror from the beginning).
    public func readProducer() throws -> ProducerCheckpoint? {
        let url = file("update_seq.json")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do {
            return try JSONDecoder().decode(ProducerCheckpoint.self, from: Data(contentsOf: url))
        } catch {
            throw CheckpointError(path: url.path, message: "not a producer checkpoint ({\"update_seq\": N}): \(error)")
        }
    }

    public func file(_ name: String) -> URL {
        URL(fileURLWithPath: path).appendingPathComponent(name)
    }
}

public struct CheckpointError: Error, CustomStringConvertible, Sendable {
    public let path: String
    public let message: String
    public var description: String { "checkpoint \(path): \(message)" }
}
