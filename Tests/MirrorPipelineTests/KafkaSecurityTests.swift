import Logging
import MirrorConfig
@testable import MirrorKafka
import MirrorPipeline
import MirrorTestSupport
import Testing

/// The Kafka security settings reach librdkafka: each environment variable becomes its librdkafka
/// property on every client, and librdkafka accepts the result.
@Suite("Kafka security settings")
struct KafkaSecurityTests {
    let environment = [
        "KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "mirror",
        "KAFKA_SASL_PASSWORD": "sasl-pass",
        "KAFKA_SSL_CA_LOCATION": "/etc/ssl/ca.pem",
        "KAFKA_SSL_CERTIFICATE_LOCATION": "/etc/ssl/client.pem",
        "KAFKA_SSL_KEY_LOCATION": "/etc/ssl/client.key",
        "KAFKA_SSL_KEY_PASSWORD": "key-pass",
    ]

    @Test("every security setting from the environment becomes its librdkafka property")
    func propertiesFromEnvironment() throws {
        let configuration = try MirrorConfiguration.load(sources: ConfigurationSources(environment: environment, readFile: { _ in nil }))
        let properties = configuration.kafka.clientConfiguration(bootstrapServers: "broker:9093", clientID: "test").properties
        #expect(properties["security.protocol"] == "sasl_ssl")
        #expect(properties["sasl.mechanism"] == "SCRAM-SHA-512")
        #expect(properties["sasl.username"] == "mirror")
        #expect(properties["sasl.password"] == "sasl-pass")
        #expect(properties["ssl.ca.location"] == "/etc/ssl/ca.pem")
        #expect(properties["ssl.certificate.location"] == "/etc/ssl/client.pem")
        #expect(properties["ssl.key.location"] == "/etc/ssl/client.key")
        #expect(properties["ssl.key.password"] == "key-pass")
        #expect(properties["bootstrap.servers"] == "broker:9093")
    }

    @Test("unset security settings leave librdkafka's defaults alone")
    func defaults() throws {
        let configuration = try MirrorConfiguration.load(sources: ConfigurationSources(environment: [:], readFile: { _ in nil }))
        let properties = configuration.kafka.clientConfiguration(bootstrapServers: "broker:9092", clientID: "test").properties
        #expect(properties.keys.filter { $0.hasPrefix("sasl.") || $0.hasPrefix("ssl.") || $0 == "security.protocol" }.isEmpty)
    }

    @Test("librdkafka accepts the SASL settings when a client is created with them")
    func librdkafkaAcceptsThem() async throws {
        var environment = environment
        environment["KAFKA_SECURITY_PROTOCOL"] = "sasl_plaintext"
        environment["KAFKA_SASL_MECHANISM"] = "PLAIN"
        for key in ["KAFKA_SSL_CA_LOCATION", "KAFKA_SSL_CERTIFICATE_LOCATION", "KAFKA_SSL_KEY_LOCATION", "KAFKA_SSL_KEY_PASSWORD"] {
            environment[key] = nil
        }
        let configuration = try MirrorConfiguration.load(sources: ConfigurationSources(environment: environment, readFile: { _ in nil }))
        let client = configuration.kafka.clientConfiguration(bootstrapServers: "127.0.0.1:1", clientID: "test")
        let logger = Logger(label: "security-test", factory: { _ in SwiftLogNoOpLogHandler() })
        let producer = try KafkaProducer(configuration: KafkaProducer.Configuration(client: client), logger: logger)
        await producer.shutdown(timeout: .seconds(1))
    }
}
