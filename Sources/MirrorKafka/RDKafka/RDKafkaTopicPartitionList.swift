import CRdKafka

/// Owns an `rd_kafka_topic_partition_list_t` for the span of one call.
struct RDKafkaTopicPartitionList: ~Copyable {
    let pointer: UnsafeMutablePointer<rd_kafka_topic_partition_list_t>

    init(_ entries: [KafkaTopicPartitionOffset]) {
        pointer = rd_kafka_topic_partition_list_new(Int32(clamping: entries.count))
        for entry in entries {
            let element = rd_kafka_topic_partition_list_add(pointer, entry.topicPartition.topic, entry.topicPartition.partition)
            element?.pointee.offset = entry.offset
        }
    }

    init(partitions: [KafkaTopicPartition]) {
        self.init(partitions.map { KafkaTopicPartitionOffset(topic: $0.topic, partition: $0.partition, offset: Int64(RD_KAFKA_OFFSET_INVALID)) })
    }

    init(topics: [String]) {
        self.init(topics.map { KafkaTopicPartitionOffset(topic: $0, partition: RD_KAFKA_PARTITION_UA, offset: Int64(RD_KAFKA_OFFSET_INVALID)) })
    }

    deinit {
        rd_kafka_topic_partition_list_destroy(pointer)
    }

    /// The entries with their offsets and per-entry errors.
    var entries: [(offset: KafkaTopicPartitionOffset, error: rd_kafka_resp_err_t)] {
        Self.entries(of: pointer)
    }

    static func entries(
        of list: UnsafePointer<rd_kafka_topic_partition_list_t>
    ) -> [(offset: KafkaTopicPartitionOffset, error: rd_kafka_resp_err_t)] {
        (0..<Int(list.pointee.cnt)).map { index in
            let element = list.pointee.elems[index]
            return (KafkaTopicPartitionOffset(topic: String(cString: element.topic), partition: element.partition, offset: element.offset), element.err)
        }
    }
}
