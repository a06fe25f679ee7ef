import Logging
import MirrorKafka
import MirrorTestSupport
import Synchronization
import Testing

@Suite("Topic administration and the embedded cluster", .serialized, .timeLimit(.minutes(2)))
struct KafkaAdminTests {
    @Test("topics created on the embedded cluster have the chosen partition count; an existing topic is reported")
    func embeddedTopicCreation() async throws {
        let cluster = try EmbeddedKafkaCluster(brokerCount: 2, logger: kafkaTestLogger)
        #expect(cluster.bootstrapServers.contains(":"))
        let admin = try KafkaAdmin(configuration: KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers), logger: kafkaTestLogger)
        let topic = uniqueTopic("created")
        #expect(try await admin.partitions(of: topic) == nil)
        try cluster.createTopic(topic, partitions: 12)
        let partitions = try #require(try await admin.partitions(of: topic))
        #expect(partitions.map(\.id) == Array(0..<12))
        #expect(partitions.allSatisfy { (1...2).contains($0.leader) })
        #expect(try await admin.ensureTopic(topic, partitions: 12, timeout: .seconds(5)) == .alreadyExists(partitionCount: 12))
        #expect(try await admin.ensureTopic(topic, partitions: 3, timeout: .seconds(5)) == .alreadyExists(partitionCount: 12))
        // Asking for the partitions of a missing topic must not have created it.
        let untouched = uniqueTopic("untouched")
        #expect(try await admin.partitions(of: untouched) == nil)
        #expect(try await admin.partitions(of: untouched) == nil)
    }

    @Test("CreateTopics against the mock (which never answers it) times out cleanly")
    func createTopicsTimesOut() async throws {
        let cluster = try EmbeddedKafkaCluster(brokerCount: 1, logger: kafkaTestLogger)
        let admin = try KafkaAdmin(configuration: KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers), logger: kafkaTestLogger)
        let started = ContinuousClock.now
        let error = await #expect(throws: KafkaError.self) {
            try await admin.ensureTopic(uniqueTopic("never"), partitions: 3, timeout: .seconds(2))
        }
        #expect(error?.code == .timedOut)
        #expect(error?.isRetriable == true)
        #expect(error?.brokers == cluster.bootstrapServers)
        #expect(ContinuousClock.now - started < .seconds(20), "the request hung instead of timing out")
    }

    @Test("a broker that is down makes produce wait, and the message lands once it is back")
    func produceWaitsForBrokerDown() async throws {
        let cluster = try EmbeddedKafkaCluster(brokerCount: 1, logger: kafkaTestLogger)
        let topic = uniqueTopic("down")
        try cluster.createTopic(topic, partitions: 1)
        let logs = CapturedLogs()
        let producer = try KafkaProducer(configuration: testProducerConfiguration(cluster), logger: logs.logger())
        // Connect and acknowledge once, so the outage starts on a working client.
        _ = try await producer.send(KafkaProducerMessage(topic: topic, key: "a", value: Array("before".utf8)))
        let errorsBefore = logs.all.filter { $0.contains("Kafka client error") }.count

        try cluster.setBrokerDown(1)
        let delivered = Atomic<Bool>(false)
        let delivery = Task {
            let report = try await producer.send(KafkaProducerMessage(topic: topic, key: "a", value: Array("during".utf8)))
            delivered.store(true, ordering: .relaxed)
            return report
        }
        // The client has felt the outage: librdkafka reported a failed connection to the broker.
        let felt = await eventually(within: .seconds(30)) { logs.all.filter { $0.contains("Kafka client error") }.count > errorsBefore }
        let deliveredWhileDown = delivered.load(ordering: .relaxed)
        try cluster.setBrokerUp(1)
        #expect(felt, "no client error while the broker was down; log: \(logs.all.suffix(20))")
        #expect(!deliveredWhileDown, "the message was acknowledged while the broker was down")
        let report = try await delivery.value
        #expect(report.offset == 1)
        await producer.shutdown()

        let admin = try KafkaAdmin(configuration: KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers), logger: kafkaTestLogger)
        #expect(try await admin.watermarks(topic: topic, partition: 0) == KafkaWatermarks(low: 0, high: 2))
        let last = try await admin.lastMessages(topic: topic)
        #expect(last[0].map { String(decoding: $0.value, as: UTF8.self) } == "during")
    }

    @Test("injected produce errors are retried by the idempotent producer without duplicates")
    func produceRetriesInjectedErrors() async throws {
        let cluster = try EmbeddedKafkaCluster(brokerCount: 1, logger: kafkaTestLogger)
        let topic = uniqueTopic("errors")
        try cluster.createTopic(topic, partitions: 1)
        let producer = try KafkaProducer(configuration: testProducerConfiguration(cluster), logger: Logger(label: "quiet") { _ in SwiftLogNoOpLogHandler() })
        _ = try await producer.send(KafkaProducerMessage(topic: topic, key: "a", value: Array("warm-up".utf8)))
        cluster.pushRequestErrors(.produce, [.notEnoughReplicas, .requestTimedOut, .notEnoughReplicas])
        let reports = try await producer.send((0..<20).map { KafkaProducerMessage(topic: topic, key: "a", value: Array("m\($0)".utf8)) })
        #expect(reports.map(\.offset) == Array(1...20))
        await producer.shutdown()
        let admin = try KafkaAdmin(configuration: KafkaClientConfiguration(bootstrapServers: cluster.bootstrapServers), logger: kafkaTestLogger)
        #expect(try await admin.watermarks(topic: topic, partition: 0).high == 21)
    }

    @Test("a bad client property is refused with a clear, typed error that hides secrets")
    func badPropertyIsRefused() throws {
        var configuration = KafkaClientConfiguration(bootstrapServers: "127.0.0.1:1")
        configuration.additionalProperties = ["no.such.property": "1"]
        let error = #expect(throws: KafkaError.self) {
            try KafkaProducer(configuration: KafkaProducer.Configuration(client: configuration), logger: kafkaTestLogger)
        }
        #expect(error?.code == .configuration)
        #expect(error?.description.contains("no.such.property") == true)

        var secret = KafkaClientConfiguration(bootstrapServers: "127.0.0.1:1")
        secret.security.saslPassword = "hunter2-very-secret"
        secret.security.saslMechanism = "NO-SUCH-MECHANISM"
        secret.security.securityProtocol = "sasl_plaintext"
        let secretError = #expect(throws: KafkaError.self) {
            try KafkaProducer(configuration: KafkaProducer.Configuration(client: secret), logger: kafkaTestLogger)
        }
        #expect(secretError?.description.contains("hunter2") == false)
    }
}
