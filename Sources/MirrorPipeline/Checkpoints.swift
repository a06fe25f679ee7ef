import Foundation

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

/// Writes a whole file or nothing: the bytes go to a temporary file in the same directory, are
/// flushed to disk, and the temporary file is renamed over the target.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL) throws {
        let directory = url.deletingLastPathComponent()
        let temporary = directory.appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
        let descriptor = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw posixError("create \(temporary.path)") }
        var succeeded = false
        defer {
            if !succeeded { unlink(temporary.path) }
        }
        do {
            defer { close(descriptor) }
            try data.withUnsafeBytes { raw in
                var offset = 0
                while offset < raw.count {
                    let written = Foundation.write(descriptor, raw.baseAddress! + offset, raw.count - offset)
                    if written < 0 {
                        if errno == EINTR { continue }
                        throw posixError("write \(temporary.path)")
                    }
                    offset += written
                }
            }
            guard fsync(descriptor) == 0 else { throw posixError("fsync \(temporary.path)") }
        }
        guard rename(temporary.path, url.path) == 0 else { throw posixError("rename to \(url.path)") }
        succeeded = true
        let directoryDescriptor = open(directory.path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if directoryDescriptor >= 0 {
            fsync(directoryDescriptor)
            close(directoryDescriptor)
        }
    }

    static func posixError(_ what: String) -> any Error {
        let code = errno
        return CheckpointError(path: what, message: String(cString: strerror(code)))
    }
}
