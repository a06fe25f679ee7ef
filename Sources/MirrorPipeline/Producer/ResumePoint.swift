import Logging
import MirrorConfig
import MirrorKafka
import MirrorStore

/// Where the producer starts, and which source said so.
public struct ResumePoint: Sendable, Hashable, CustomStringConvertible {
    public enum Source: String, Sendable, Hashable {
        /// The highest seq among the last messages of every partition of the topic.
        case topic
        /// `update_seq/update_seq.json`.
        case checkpoint
        /// A number in the configuration (`update_seq`).
        case configuredSeq = "configured seq"
        /// `"now"` in the configuration: the replicate root's `update_seq`.
        case registryHead = "registry head (update_seq: now)"
    }

    public var seq: Int64
    public var source: Source
    /// Whether the checkpoint says a feed reset was followed (kept in later checkpoints).
    public var feedReset: Bool

    public var description: String { "seq \(seq) from \(source.rawValue)" }

    /// The resume rule: the higher of the topic's highest seq and the checkpoint's; if neither
    /// exists, the configured start. A checkpoint written after following a feed reset wins over the
    /// topic, whose seqs are from before the reset.
    public static func resolve(
        topicSeq: Int64?,
        checkpoint: CheckpointDirectory.ProducerCheckpoint?,
        configured: MirrorConfiguration.StartSequence,
        registryHead: () async throws -> Int64
    ) async throws -> ResumePoint {
        let feedReset = checkpoint?.feedReset ?? false
        switch (topicSeq, checkpoint?.updateSeq) {
        case (_, let checkpointSeq?) where feedReset:
            return ResumePoint(seq: checkpointSeq, source: .checkpoint, feedReset: true)
        case (let topicSeq?, let checkpointSeq?):
            return topicSeq >= checkpointSeq
                ? ResumePoint(seq: topicSeq, source: .topic, feedReset: false)
                : ResumePoint(seq: checkpointSeq, source: .checkpoint, feedReset: false)
        case (let topicSeq?, nil):
            return ResumePoint(seq: topicSeq, source: .topic, feedReset: false)
        case (nil, let checkpointSeq?):
            return ResumePoint(seq: checkpointSeq, source: .checkpoint, feedReset: false)
        case (nil, nil):
            switch configured {
            case .seq(let seq): return ResumePoint(seq: seq, source: .configuredSeq, feedReset: false)
            case .now: return ResumePoint(seq: try await registryHead(), source: .registryHead, feedReset: false)
            }
        }
    }

    /// The highest seq among the last messages of the topic's partitions. Messages that cannot be
    /// decoded are logged and passed over.
    public static func highestSeq(in lastMessages: [Int32: KafkaConsumerMessage], logger: Logger) -> Int64? {
        lastMessages.values.compactMap { message -> Int64? in
            do {
                // A reconciled change has no place in the feed: the partition's feed changes came before it.
                return try ChangeMessage.decode(message.value).feedSeq
            } catch {
                logger.warning(
                    "The last message of a partition is not a change; passing over it",
                    metadata: ["kafka.partition": "\(message.partition)", "kafka.offset": "\(message.offset)", "error": "\(error)"]
                )
                return nil
            }
        }.max()
    }
}
