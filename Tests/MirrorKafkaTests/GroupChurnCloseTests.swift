import MirrorKafka
import Synchronization
import Testing

/// The hang of issue #23: a member closed while a rebalance was still to come had librdkafka serve
/// it inside `rd_kafka_consumer_close`, whose terminating group state purged the assign request
/// unanswered, and the callback's `rd_kafka_assign` waited forever. `KafkaConsumer.close()` now
/// unsubscribes and answers the group's rebalances on its own thread until the member is out, and
/// only then closes.
@Suite("Consumers joining, leaving and closing under load")
struct GroupChurnCloseTests {
    /// Groups of two stable members and one that joins and leaves again and again; every member polls,
    /// commits every few hundred milliseconds and from its revoke handler, and asks for committed
    /// offsets, lag and group positions all the while (the consumer's own call pattern). Every close
    /// must return within its bound; the run itself is bounded in time.
    @Test("many closes while others commit and query: none hangs", .timeLimit(.minutes(4)))
    func closesNeverHang() async throws {
        let cluster = try EmbeddedKafkaCluster(brokerCount: 1, logger: kafkaTestLogger)
        // Sized to run beside the rest of the suite on two cores: a busier version (four groups,
        // queries every 50 ms) starved other suites' loopback servers into timeouts.
        let groups = 3
        let runFor = Duration.seconds(30)
        let closeBound = Duration.seconds(30)
        let topic = uniqueTopic("churn")
        try cluster.createTopic(topic, partitions: 6)
        let producer = try KafkaProducer(configuration: testProducerConfiguration(cluster), logger: kafkaTestLogger)
        _ = try await producer.send((0..<600).map { KafkaProducerMessage(topic: topic, key: "k\($0 % 37)", value: Array("v\($0)".utf8)) })
        await producer.shutdown()

        let tally = Locked((closes: 0, hung: 0, revokeCommits: 0, slowest: Duration.zero))
        let end = ContinuousClock.now + runFor

        /// One member's life: join, work until `until` (or the end), close within the bound.
        @Sendable func member(group: String, until: ContinuousClock.Instant) async {
            let consumer: KafkaConsumer
            do {
                consumer = try KafkaConsumer(configuration: testConsumerConfiguration(cluster, group: group), logger: kafkaTestLogger)
                try consumer.subscribe(topics: [topic])
            } catch {
                Issue.record("could not start a member: \(error)")
                return
            }
            let seen = Locked<[KafkaTopicPartition: Int64]>([:])
            consumer.setRevokeHandler { revoked in
                let done = seen.withLock { seen in revoked.compactMap { partition in seen[partition].map { KafkaTopicPartitionOffset(topic: partition.topic, partition: partition.partition, offset: $0) } } }
                if !done.isEmpty { tally.withLock { $0.revokeCommits += 1 } }
                return done
            }
            await withTaskGroup(of: Void.self) { work in
                work.addTask {
                    while ContinuousClock.now < until {
                        guard let messages = try? await consumer.poll(maxMessages: 50, timeout: .milliseconds(100)) else { return }
                        seen.withLock { seen in
                            for message in messages { seen[KafkaTopicPartition(topic: message.topic, partition: message.partition)] = message.offset }
                        }
                    }
                }
                work.addTask {
                    while ContinuousClock.now < until {
                        let done = seen.withLock { $0.map { KafkaTopicPartitionOffset(topic: $0.key.topic, partition: $0.key.partition, offset: $0.value) } }
                        try? await consumer.commit(processedThrough: done)
                        try? await Task.sleep(for: .milliseconds(300))
                    }
                }
                work.addTask {
                    while ContinuousClock.now < until {
                        _ = try? await consumer.committedOffsets(for: (0..<6).map { KafkaTopicPartition(topic: topic, partition: $0) }, timeout: .seconds(2))
                        _ = try? await consumer.lag(timeout: .seconds(2))
                        _ = try? await consumer.groupPositions(topic: topic, timeout: .seconds(2))
                        try? await Task.sleep(for: .milliseconds(250))
                    }
                }
            }
            let started = ContinuousClock.now
            let closed = await withTaskGroup(of: Bool.self) { race in
                race.addTask {
                    await consumer.close()
                    return true
                }
                race.addTask {
                    try? await Task.sleep(for: closeBound)
                    return false
                }
                let first = await race.next() ?? false
                race.cancelAll()
                return first
            }
            let took = ContinuousClock.now - started
            tally.withLock { tally in
                tally.closes += 1
                if !closed { tally.hung += 1 }
                tally.slowest = max(tally.slowest, took)
            }
        }

        await withTaskGroup(of: Void.self) { all in
            for index in 0..<groups {
                let group = "g-\(topic)-\(index)"
                // Two stable members, and one that keeps joining and leaving.
                all.addTask { await member(group: group, until: end) }
                all.addTask { await member(group: group, until: end) }
                all.addTask {
                    var round = 0
                    // At least five rounds, however slow a loaded machine makes them (bounded all the same).
                    while (ContinuousClock.now < end - .seconds(2) || round < 5) && ContinuousClock.now < end + .seconds(60) {
                        round += 1
                        await member(group: group, until: min(end, ContinuousClock.now + .milliseconds(1500 + 700 * (round % 4))))
                    }
                }
            }
        }
        let result = tally.withLock { $0 }
        print("group churn: \(result.closes) closes, \(result.revokeCommits) revoke commits, slowest close \(result.slowest), hung \(result.hung)")
        #expect(result.hung == 0, "a close did not return within \(closeBound)")
        #expect(result.closes >= groups * 6, "too few closes to mean anything: \(result.closes)")
    }
}

/// A value behind a lock that closures can share.
final class Locked<Value: Sendable>: Sendable {
    private let mutex: Mutex<Value>
    init(_ value: Value) { mutex = Mutex(value) }
    func withLock<T>(_ body: (inout Value) -> T) -> T { mutex.withLock { body(&$0) } }
}
