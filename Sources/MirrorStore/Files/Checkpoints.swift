import Foundation
import MirrorJSON
import MirrorRuntime

/// The checkpoint files in `UPDATE_SEQ_DIR`, each written atomically (temporary file, fsync, rename),
/// so a crash leaves either the old or the new file, never a torn one. The writes (each with its
/// fsyncs) run on ``BlockingWork``'s threads, off Swift's cooperative pool.
///
/// - `update_seq.json`: `{"update_seq": N}` — the producer's last acknowledged seq (plus
///   `"feed_reset": true` once the producer has followed a seq reset to a lower head).
/// - `last_message.json`: the full last message the producer had acknowledged.
/// - `consumer.json`: the consumer's highest fully processed seq and its last message.
public struct CheckpointDirectory: Sendable {
    public let path: String
    /// Writes one whole file: ``AtomicFile/write(_:to:)``, or a stand-in from a test.
    private let writeFile: @Sendable (Data, URL) throws -> Void

    public init(path: String) {
        self.init(path: path) { try AtomicFile.write($0, to: $1) }
    }

    package init(path: String, writeFile: @escaping @Sendable (Data, URL) throws -> Void) {
        self.path = path
        self.writeFile = writeFile
    }

    /// The producer's checkpoint.
    public struct ProducerCheckpoint: Sendable, Hashable {
        public var updateSeq: Int64
        /// True once the producer followed the feed back to a lower head: this seq then wins over
        /// the (older, higher) seqs in the topic when resuming.
        public var feedReset: Bool?

        public init(updateSeq: Int64, feedReset: Bool? = nil) {
            self.updateSeq = updateSeq
            self.feedReset = feedReset
        }

        /// `{"feed_reset":…,"update_seq":N}`.
        var json: JSONValue {
            var object: [String: JSONValue] = ["update_seq": .number(Double(updateSeq))]
            if let feedReset { object["feed_reset"] = .bool(feedReset) }
            return .object(object)
        }

        init(json: JSONValue) throws(CheckpointError.Reason) {
            guard let seq = json["update_seq"]?.numberValue, seq == seq.rounded(), let updateSeq = Int64(exactly: seq) else {
                throw .init(message: "no integer \"update_seq\"")
            }
            self.updateSeq = updateSeq
            self.feedReset = json["feed_reset"]?.boolValue
        }
    }

    /// The consumer's checkpoint, `consumer.json`: the highest seq processed with everything before
    /// it in its partition, that change's message, and how many changes were parked when written.
    public struct ConsumerCheckpoint: Sendable, Equatable {
        public var seq: Int64
        public var lastMessage: JSONValue?
        public var parked: Int

        public init(seq: Int64, lastMessage: JSONValue?, parked: Int) {
            self.seq = seq
            self.lastMessage = lastMessage
            self.parked = parked
        }

        /// `{"last_message":…,"parked":N,"seq":N}`.
        var json: JSONValue {
            var object: [String: JSONValue] = ["seq": .number(Double(seq)), "parked": .number(Double(parked))]
            object["last_message"] = lastMessage
            return .object(object)
        }

        init(json: JSONValue) throws(CheckpointError.Reason) {
            guard let seq = json["seq"]?.numberValue, seq == seq.rounded(), let exact = Int64(exactly: seq) else {
                throw .init(message: "no integer \"seq\"")
            }
            self.seq = exact
            self.lastMessage = json["last_message"]
            self.parked = json["parked"]?.intValue ?? 0
        }
    }

    /// Writes `consumer.json`.
    public func writeConsumer(_ checkpoint: ConsumerCheckpoint) async throws {
        try await write([(name: "consumer.json", contents: Data(checkpoint.json.serializedBytes))])
    }

    /// The consumer's checkpoint, or nil when there is none; a file that is not one is an error.
    public func readConsumer() throws -> ConsumerCheckpoint? {
        let url = file("consumer.json")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do {
            return try ConsumerCheckpoint(json: JSONValue(parsing: Data(contentsOf: url)))
        } catch {
            throw CheckpointError(path: url.path, message: "not a consumer checkpoint ({\"seq\": N}): \(error)")
        }
    }

    /// Records an acknowledged page: `update_seq.json`, then `last_message.json`.
    public func writeProducer(_ checkpoint: ProducerCheckpoint, lastMessage: [UInt8]?) async throws {
        var files = [(name: "update_seq.json", contents: Data(checkpoint.json.serializedBytes))]
        if let lastMessage {
            files.append((name: "last_message.json", contents: Data(lastMessage)))
        }
        try await write(files)
    }

    /// Writes the file `name` of this directory (`consumer.json`, say) atomically.
    public func write(_ contents: Data, toFile name: String) async throws {
        try await write([(name: name, contents: contents)])
    }

    /// Creates the directory if needed, then writes `files` in order, each atomically, on a thread
    /// for blocking work.
    private func write(_ files: [(name: String, contents: Data)]) async throws {
        try await BlockingWork.run { [self] in
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            for (name, contents) in files {
                try writeFile(contents, file(name))
            }
        }
    }

    /// The producer's checkpoint, or nil when there is none. A file that cannot be read as one is an
    /// error (it is not silently ignored: that could restart the mirror from the beginning).
    public func readProducer() throws -> ProducerCheckpoint? {
        let url = file("update_seq.json")
        guard FileManager.default.fileExists(atPath: url.path) else { return nil }
        do {
            return try ProducerCheckpoint(json: JSONValue(parsing: Data(contentsOf: url)))
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

    /// What is wrong with a checkpoint's content, before the path is known.
    struct Reason: Error, CustomStringConvertible {
        let message: String
        var description: String { message }
    }
}
