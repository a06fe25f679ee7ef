import AsyncHTTPClient
import CoreMetrics
import Foundation
import Logging
import MirrorConfig
import MirrorKafka
import MirrorPipeline
import MirrorRecords
import MirrorStore
import NPMRegistry

/// `npm-mirror status`: the state of the configured stack, each part read on its own so one that is
/// down is reported rather than ending the report.
public enum MirrorStatus {
    /// How long the tarball count may walk the store before the report gives a lower bound instead.
    public static let defaultCountBudget: Duration = .seconds(10)

    /// The report, as lines of text. `countBudget` bounds the walk that counts tarballs (nil: count
    /// every file, however long that takes).
    public static func report(configuration: MirrorConfiguration, countBudget: Duration? = defaultCountBudget, logger: Logger) async -> [String] {
        var lines: [String] = []
        let checkpoints = CheckpointDirectory(path: configuration.storage.updateSeqDirectory)
        let produced = (try? checkpoints.readProducer())?.updateSeq
        let consumerCheckpoint = try? checkpoints.readConsumer()
        let processed = consumerCheckpoint?.seq
        let parked = consumerCheckpoint?.parked

        // Registry.
        let http = RegistryHTTP(client: .shared, timeout: .seconds(10), metrics: NOOPMetricsHandler.instance)
        let replicate = ReplicateClient(baseURL: configuration.registry.replicateURL, http: http)
        var head: Int64?
        do {
            head = try await replicate.root().updateSeq
            lines.append("registry        \(configuration.registry.replicateURL) update_seq \(head!)")
        } catch {
            lines.append("registry        \(configuration.registry.replicateURL): unreachable (\(error))")
        }
        lines.append("produced seq    \(produced.map(String.init) ?? "none") (update_seq/update_seq.json)" + (head.flatMap { h in produced.map { "  lag \(max(0, h - $0))" } } ?? ""))
        lines.append("processed seq   \(processed.map(String.init) ?? "none") (update_seq/consumer.json)" + (head.flatMap { h in processed.map { "  lag \(max(0, h - $0))" } } ?? ""))
        if let parked {
            lines.append("parked changes  \(parked) (waiting out a retry while their lanes go on; npm_mirror_consumer_parked)")
        }

        // Kafka.
        if let brokers = configuration.kafka.brokers {
            lines += await kafkaLines(configuration: configuration, brokers: brokers, logger: logger)
        } else {
            lines.append("kafka           embedded broker: it lives inside `npm-mirror run` and cannot be inspected from another process")
        }

        // Store and records.
        let root = configuration.storage.remotePackageDirectory
        let census = StoreCensus.count(under: root, budget: countBudget)
        let size = ByteCountFormatter.string(fromByteCount: census.bytes, countStyle: .file)
        if census.complete {
            lines.append("package store   \(root): \(census.tarballs) tarballs, \(size)")
        } else {
            // Incomplete only when a budget ran out.
            let seconds = countBudget?.components.seconds ?? 0
            lines.append("package store   \(root): at least \(census.tarballs) tarballs, \(size) (the count stopped after \(seconds) s; `npm-mirror status --count-all` counts every file)")
        }
        if let space = FileSystemSpace.of(root) {
            let free = ByteCountFormatter.string(fromByteCount: space.free, countStyle: .file)
            let total = ByteCountFormatter.string(fromByteCount: space.size, countStyle: .file)
            lines.append("disk            \(free) free of \(total) (\(Int((space.usedFraction * 100).rounded())) % used) on the store's file system")
        }
        do {
            let (records, location) = try EmbeddedMirror.recordStore(configuration, logger: logger)
            let count = try await records.count()
            lines.append("records         \(location): \(count) documents")
        } catch {
            lines.append("records         unavailable (\(error))")
        }
        return lines
    }

    private static func kafkaLines(configuration: MirrorConfiguration, brokers: String, logger: Logger) async -> [String] {
        var lines: [String] = []
        let client = configuration.kafka.clientConfiguration(bootstrapServers: brokers, clientID: "npm-mirror-status")
        do {
            let admin = try KafkaAdmin(configuration: client, logger: logger)
            let topic = configuration.kafka.topic
            guard let partitions = try await admin.partitions(of: topic, timeout: .seconds(10)) else {
                return ["kafka           \(brokers): no topic \(topic)"]
            }
            var consumerConfiguration = KafkaConsumer.Configuration(client: client, groupID: configuration.kafka.consumerGroup)
            consumerConfiguration.sessionTimeout = configuration.consumer.sessionTimeout
            let probe = try KafkaConsumer(configuration: consumerConfiguration, logger: logger)
            let committed = try await probe.committedOffsets(for: partitions.map { KafkaTopicPartition(topic: topic, partition: $0.id) })
            await probe.close()
            lines.append("kafka           \(brokers) topic \(topic), \(partitions.count) partitions, group \(configuration.kafka.consumerGroup)")
            lines.append("  partition   low        high       committed  lag")
            var totalLag: Int64 = 0
            for partition in partitions {
                let marks = try await admin.watermarks(topic: topic, partition: partition.id)
                let position = committed[KafkaTopicPartition(topic: topic, partition: partition.id)]
                let lag = max(0, marks.high - (position ?? marks.low))
                totalLag += lag
                lines.append(String(format: "  %-11d %-10lld %-10lld %-10@ %lld", partition.id, marks.low, marks.high, position.map(String.init) ?? "-", lag))
            }
            lines.append("  consumer group lag, all partitions: \(totalLag)")
        } catch {
            lines.append("kafka           \(brokers): unavailable (\(error))")
        }
        return lines
    }
}
