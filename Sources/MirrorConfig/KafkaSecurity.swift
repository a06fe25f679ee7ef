/// How the Kafka clients authenticate and encrypt (`KAFKA_SECURITY_PROTOCOL`, `KAFKA_SASL_*`,
/// `KAFKA_SSL_*`): plain values, mapped one to one onto librdkafka's properties where the clients
/// are made (the pipeline's `KafkaSettings`), so configuration does not link librdkafka.
public struct KafkaSecurity: Sendable, Equatable {
    /// `security.protocol`: `plaintext`, `ssl`, `sasl_plaintext` or `sasl_ssl`.
    public var securityProtocol: String?
    /// `sasl.mechanism`: `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`, …
    public var saslMechanism: String?
    public var saslUsername: String?
    /// A secret: never printed.
    public var saslPassword: String?
    public var sslCALocation: String?
    public var sslCertificateLocation: String?
    public var sslKeyLocation: String?
    /// A secret: never printed.
    public var sslKeyPassword: String?

    public init(
        securityProtocol: String? = nil,
        saslMechanism: String? = nil,
        saslUsername: String? = nil,
        saslPassword: String? = nil,
        sslCALocation: String? = nil,
        sslCertificateLocation: String? = nil,
        sslKeyLocation: String? = nil,
        sslKeyPassword: String? = nil
    ) {
        self.securityProtocol = securityProtocol
        self.saslMechanism = saslMechanism
        self.saslUsername = saslUsername
        self.saslPassword = saslPassword
        self.sslCALocation = sslCALocation
        self.sslCertificateLocation = sslCertificateLocation
        self.sslKeyLocation = sslKeyLocation
        self.sslKeyPassword = sslKeyPassword
    }
}
