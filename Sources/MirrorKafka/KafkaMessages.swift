/// A message to produce.
public struct KafkaProducerMessage: Sendable, Hashable {
    public var topic: String
    /// The partitioning key: messages with one key go to one partition and keep their order there.
    public var key: [UInt8]?
    public var value: [UInt8]
    /// A fixed partition, or nil to let the partitioner choose from the key.
    public var partition: Int32?

    public init(topic: String, key: [UInt8]?, value: [UInt8], partition: Int32? = nil) {
        self.topic = topic
        self.key = key
        self.value = value
        self.partition = partition
    }

    public init(topic: String, key: String, value: [UInt8], partition: Int32? = nil) {
        self.init(topic: topic, key: Array(key.utf8), value: value, partition: partition)
    }
}

/// Where the broker stored an acknowledged message.
public struct KafkaDeliveryReport: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
}

/// A message read by a consumer.
public struct KafkaConsumerMessage: Sendable, Hashable {
    public var topic: String
    public var partition: Int32
    public var offset: Int64
    public var key: [UInt8]?
    public var value: [UInt8]
    /// The message's timestamp in milliseconds since 1970, if it has one.
    public var timestampMilliseconds: Int64?

    public init(topic: String, partition: Int32, offset: Int64, key: [UInt8]?, value: [UInt8], timestampMilliseconds: Int64?) {
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.key = key
        self.value = value
        self.timestampMilliseconds = timestampMilliseconds
    }

    /// The key as UTF-8 text, if there is a key.
    public var keyString: String? { key.map { String(decoding: $0, as: UTF8.self) } }
}

/// One partition of one topic.
public struct KafkaTopicPartition: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var topic: String
    public var partition: Int32

    public init(topic: String, partition: Int32) {
        self.topic = topic
        self.partition = partition
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.topic, lhs.partition) < (rhs.topic, rhs.partition)
    }

    public var description: String { "\(topic)[\(partition)]" }
}

/// An offset in one partition.
public struct KafkaTopicPartitionOffset: Sendable, Hashable {
    public var topicPartition: KafkaTopicPartition
    public var offset: Int64

    public init(topic: String, partition: Int32, offset: Int64) {
        self.topicPartition = KafkaTopicPartition(topic: topic, partition: partition)
        self.offset = offset
    }
}

/// The low and high watermarks of a partition: the first offset still held and the offset the next
/// message will get. `high - low` messages are in the partition.
public struct KafkaWatermarks: Sendable, Hashable {
    public var low: Int64
    public var high: Int64

    public init(low: Int64, high: Int64) {
        self.low = low
        self.high = high
    }
}

/// Where a consumer group stands on one partition: its committed position (the next offset it will
/// read; nil when it has committed nothing there) against the partition's watermarks.
public struct KafkaGroupPosition: Sendable, Hashable {
    public var partition: KafkaTopicPartition
    public var committed: Int64?
    public var watermarks: KafkaWatermarks

    public init(partition: KafkaTopicPartition, committed: Int64?, watermarks: KafkaWatermarks) {
        self.partition = partition
        self.committed = committed
        self.watermarks = watermarks
    }

    /// Messages the group has not committed yet. A partition with no commit counts from its low
    /// watermark (what `auto.offset.reset=earliest` would read).
    public var uncommitted: Int64 {
        max(0, watermarks.high - max(committed ?? watermarks.low, watermarks.low))
    }

    /// Everything in the partition is committed by the group.
    public var isDrained: Bool { uncommitted == 0 }
}
