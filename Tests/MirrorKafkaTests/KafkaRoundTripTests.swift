import Logging
import MirrorKafka
import MirrorTestSupport
import Testing

@Suite("Kafka layer against the embedded mock cluster", .serialized, .timeLimit(.minutes(3)))
struct KafkaRoundTripTests {
    @Test("keyed messages: one key, one partition, order kept; every message consumed once")
    func keyedRoundTrip() async throws {
        let cluster = try EmbeddedKafkaCluster(brokerCount: 3, logger: kafkaTestLogger)
        let topic = uniqueTopic("keyed")
        try cluster.createTopic(topic, partitions: 12, replicationFactor: 3)

        let producer = try KafkaProducer(configuration: testProducerConfiguration(cluster), logger: kafkaTestLogger)
        let keys = (0..<40).map { "package-\($0)" }
        // 10 rounds over 40 keys; each value says which key and which round.
        let messages = (0..<10).flatMap { round in
            keys.map { KafkaProducerMessage(topic: topic, key: $0, value: Array("\($0)#\(round)".utf8)) }
        }
        let reports = try await producer.send(messages)
        #expect(reports.count == messages.count)
        #expect(Set(reports.map(\.topic)) == [topic])
        await producer.shutdown()

        let consumer = try KafkaConsumer(configuration: testConsumerConfiguration(cluster, group: "g-\(topic)"), logger: kafkaTestLogger)
        try consumer.subscribe(topics: [topic])
        let received = try await consume(consumer, count: messages.count)
        await consumer.close()

        #expect(received.count == messages.count)
        var partitionsByKey: [String: Set<Int32>] = [:]
        var roundsByKey: [String: [Int]] = [:]
        for message in received {
            let key = try #require(message.keyString)
            partitionsByKey[key, default: []].insert(message.partition)
            let text = String(decoding: message.value, as: UTF8.self)
            let parts = text.split(separator: "#")
            #expect(String(parts[0]) == key)
            roundsByKey[key, default: []].append(Int(parts[1])!)
        }
        #expect(partitionsByKey.count == keys.count)
        #expect(partitionsByKey.values.allSatisfy { $0.count == 1 }, "a key was spread over partitions")
        #expect(roundsByKey.values.allSatisfy { $0 == Array(0..<10) }, "per-key order was not kept")
        // 40 keys over 12 partitions: the partitioner really spreads them.
        #expect(Set(received.map(\.partition)).count > 6)
        // The delivery reports say where each message went, and the consumer found it there.
        let reported = Set(reports.map { "\($0.partition)/\($0.offset)" })
        #expect(Set(received.map { "\($0.partition)/\($0.offset)" }) == reported)
    }

    @Test("committed offsets survive a consumer restart: the next member starts where the last stopped")
    func committedOffsetsSurviveRestart() async throws {
        let cluster = try EmbeddedKafkaCluster(brokerCount: 1, logger: kafkaTestLogger)
        let topic = uniqueTopic("commit")
        try cluster.createTopic(topic, partitions: 3)
        let producer = try KafkaProducer(configuration: testProducerConfiguration(cluster), logger: kafkaTestLogger)
        let messages = (0..<90).map { KafkaProducerMessage(topic: topic, key: "k\($0 % 9)", value: Array("v\($0)".utf8)) }
        _ = try await producer.send(messages)
        await producer.shutdown()

        let group = "g-\(topic)"
        let first = try KafkaConsumer(configuration: testConsumerConfiguration(cluster, group: group), logger: kafkaTestLogger)
        try first.subscribe(topics: [topic])
        let firstBatch = try await consume(first, count: 40)
        #expect(firstBatch.count == 40)
        // Done through the highest offset seen on each partition (per-partition order is kept).
        var doneThrough: [Int32: Int64] = [:]
        for message in firstBatch { doneThrough[message.partition] = max(doneThrough[message.partition] ?? -1, message.offset) }
        try await first.commit(processedThrough: doneThrough.map { KafkaTopicPartitionOffset(topic: topic, partition: $0.key, offset: $0.value) })
        let committed = try await first.committedOffsets(for: (0..<3).map { KafkaTopicPartition(topic: topic, partition: $0) })
        for (partition, offset) in doneThrough {
            #expect(committed[KafkaTopicPartition(topic: topic, partition: partition)] == offset + 1)
        }
        await first.close()

        let second = try KafkaConsumer(configuration: testConsumerConfiguration(cluster, group: group), logger: kafkaTestLogger)
        try second.subscribe(topics: [topic])
        let committedCount = doneThrough.values.reduce(0) { $0 + Int($1) + 1 }
        let rest = try await consume(second, count: 90 - committedCount)
        // Nothing more should come.
        let extra = try await second.poll(maxMessages: 10, timeout: .seconds(1))
        await second.close()

        #expect(rest.count == 90 - committedCount)
        #expect(extra.isEmpty)
        for message in rest {
            #expect(message.offset > (doneThrough[message.partition] ?? -1), "a committed message was delivered again")
        }
        let all = Set((firstBatch + rest).map { String(decoding: $0.value, as: UTF8.self) })
        #expect(all == Set((0..<90).map { "v\($0)" }))
    }

    @Test("lag counts every message the group has not committed, however far librdkafka has fetched")
    func lagCountsUncommitted() async throws {
        let cluster = try EmbeddedKafkaCluster(brokerCount: 1, logger: kafkaTestLogger)
        let topic = uniqueTopic("lag")
        try cluster.createTopic(topic, partitions: 3)
        let producer = try KafkaProducer(configuration: testProducerConfiguration(cluster), logger: kafkaTestLogger)
        let total = 3_000
        _ = try await producer.send((0..<total).map { KafkaProducerMessage(topic: topic, key: "k\($0 % 30)", value: Array("v\($0)".utf8)) })
        await producer.shutdown()

        let consumer = try KafkaConsumer(configuration: testConsumerConfiguration(cluster, group: "g-\(topic)"), logger: kafkaTestLogger)
        try consumer.subscribe(topics: [topic])
        let first = try await consume(consumer, count: 30)
        // Give librdkafka time to fetch ahead: the lag must not follow what it has fetched.
        try await Task.sleep(for: .seconds(1))
        #expect(try await consumer.lag().values.reduce(0, +) == Int64(total), "nothing committed yet")

        var doneThrough: [Int32: Int64] = [:]
        for message in first { doneThrough[message.partition] = max(doneThrough[message.partition] ?? -1, message.offset) }
        try await consumer.commit(processedThrough: doneThrough.map { KafkaTopicPartitionOffset(topic: topic, partition: $0.key, offset: $0.value) })
        let committed = doneThrough.values.reduce(0) { $0 + $1 + 1 }
        #expect(try await consumer.lag().values.reduce(0, +) == Int64(total) - committed)
        await consumer.close()
    }

    @Test("watermarks and the last message of every partition read back")
    func watermarksAndLastMessages() async throws {
        let cluster = try EmbeddedKafkaCluster(brokerCount: 1, logger: kafkaTestLogger)
        let topic = uniqueTopic("tail")
        try cluster.createTopic(topic, partitions: 4)
        let producer = try KafkaProducer(configuration: testProducerConfiguration(cluster), logger: kafkaTestLogger)
        // Partition p gets (p + 1) * 5 messages, except partition 3, which stays empty.
        var messages: [KafkaProducerMessage] = []
        for partition in 0..<3 {
            for index in 0..<((partition + 1) * 5) {
                messages.append(KafkaProducerMessage(topic: topic, key: "p\(partition)", value: Array("\(partition):\(index)".utf8), partition: Int32(partition)))
            }
        }
        _ = try await producer.send(messages)
        await producer.shutdown()

        let admin = try KafkaAdmin(configuration: KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers), logger: kafkaTestLogger)
        let marks = try await admin.watermarks(topic: topic)
        #expect(marks == [0: KafkaWatermarks(low: 0, high: 5), 1: KafkaWatermarks(low: 0, high: 10), 2: KafkaWatermarks(low: 0, high: 15), 3: KafkaWatermarks(low: 0, high: 0)])

        let last = try await admin.lastMessages(topic: topic)
        #expect(Set(last.keys) == [0, 1, 2])
        #expect(last[0].map { String(decoding: $0.value, as: UTF8.self) } == "0:4")
        #expect(last[1].map { String(decoding: $0.value, as: UTF8.self) } == "1:9")
        #expect(last[2].map { String(decoding: $0.value, as: UTF8.self) } == "2:14")
        #expect(last[2]?.offset == 14)

        #expect(try await admin.lastMessages(topic: uniqueTopic("missing")).isEmpty)
    }
}

@Suite("Producer queue full")
struct ProducerQueueFullTests {
    @Test("a send waiting for room in a full local queue stops when its task is cancelled instead of spinning until room comes")
    func cancelledWhileQueueFull() async throws {
        // Nothing listens on the bootstrap port and the local queue holds one message: the second
        // message of the batch waits for room, which comes only when the first one times out (5 s,
        // long after the cancellation even on a loaded machine).
        var client = KafkaClientConfiguration(bootstrapServers: "127.0.0.1:1")
        client.additionalProperties = ["queue.buffering.max.messages": "1"]
        var configuration = KafkaProducer.Configuration(client: client)
        configuration.messageTimeout = .seconds(5)
        let producer = try KafkaProducer(configuration: configuration, logger: kafkaTestLogger)
        let send = Task {
            try await producer.send([
                KafkaProducerMessage(topic: "full", key: "a", value: [1]),
                KafkaProducerMessage(topic: "full", key: "b", value: [2]),
            ])
        }
        // Cancelled only once the second message waits for room: before that, the claim is not tested.
        let deadline = ContinuousClock.now + .seconds(30)
        while producer.queueFullWaitCount == 0, ContinuousClock.now < deadline {
            try await Task.sleep(for: .milliseconds(5))
        }
        try #require(producer.queueFullWaitCount > 0, "the second message never found the queue full")
        send.cancel()
        // Without the check the cancelled loop spins until the first message's timeout frees room,
        // then queues the second anyway: the batch's first failure is that timeout, not the cancellation.
        do {
            _ = try await send.value
            Issue.record("the send succeeded with no broker")
        } catch {
            #expect("\(error)".contains("cancelled while librdkafka's queue was full"), "\(error)")
        }
        await producer.shutdown(timeout: .milliseconds(100))
    }
}
