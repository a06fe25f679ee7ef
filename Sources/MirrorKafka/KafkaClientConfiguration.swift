/// Settings every Kafka client of npm-mirror shares: where the brokers are and how to reach them.
public struct KafkaClientConfiguration: Sendable {
    /// Comma-separated `host:port` list (librdkafka `bootstrap.servers`).
    public var bootstrapServers: String
    /// Client id reported to the brokers (`client.id`). Default `npm-mirror`.
    public var clientID: String = "npm-mirror"
    /// How to authenticate and encrypt (`security.protocol`, `sasl.*`, `ssl.*`). Default: plaintext.
    public var security: KafkaSecurityConfiguration = .init()
    /// Longest wait between reconnect attempts (`reconnect.backoff.max.ms`). Default 1 s, so a broker
    /// that comes back is used again quickly.
    public var reconnectBackoffMax: Duration = .seconds(1)
    /// Any further librdkafka properties, applied last (they win over the fields above).
    public var additionalProperties: [String: String] = [:]

    public init(bootstrapServers: String) {
        self.bootstrapServers = bootstrapServers
    }

    /// The librdkafka properties these settings stand for.
    var properties: [String: String] {
        var properties: [String: String] = [
            "bootstrap.servers": bootstrapServers,
            "client.id": clientID,
            "reconnect.backoff.max.ms": String(reconnectBackoffMax.milliseconds),
        ]
        properties.merge(security.properties) { _, new in new }
        properties.merge(additionalProperties) { _, new in new }
        return properties
    }
}

/// How a client authenticates to and encrypts its traffic with the brokers, for managed Kafka services.
///
/// Every field maps to one librdkafka property; fields left `nil` are not set, so librdkafka's
/// defaults apply.
public struct KafkaSecurityConfiguration: Sendable, Equatable {
    /// `security.protocol`: `plaintext`, `ssl`, `sasl_plaintext` or `sasl_ssl`.
    public var securityProtocol: String?
    /// `sasl.mechanism`: `PLAIN`, `SCRAM-SHA-256`, `SCRAM-SHA-512`, …
    public var saslMechanism: String?
    /// `sasl.username`.
    public var saslUsername: String?
    /// `sasl.password`. Never logged: see ``KafkaSecurityConfiguration/redacted(_:)``.
    public var saslPassword: String?
    /// `ssl.ca.location`: path of the CA certificate(s) that signed the brokers' certificates.
    public var sslCALocation: String?
    /// `ssl.certificate.location`: path of the client certificate, for mutual TLS.
    public var sslCertificateLocation: String?
    /// `ssl.key.location`: path of the client's private key, for mutual TLS.
    public var sslKeyLocation: String?
    /// `ssl.key.password`: the private key's passphrase. Never logged.
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

    var properties: [String: String] {
        let pairs: [(String, String?)] = [
            ("security.protocol", securityProtocol),
            ("sasl.mechanism", saslMechanism),
            ("sasl.username", saslUsername),
            ("sasl.password", saslPassword),
            ("ssl.ca.location", sslCALocation),
            ("ssl.certificate.location", sslCertificateLocation),
            ("ssl.key.location", sslKeyLocation),
            ("ssl.key.password", sslKeyPassword),
        ]
        return Dictionary(uniqueKeysWithValues: pairs.compactMap { key, value in value.map { (key, $0) } })
    }

    /// Property keys whose values are secrets.
    static let secretKeys: Set<String> = ["sasl.password", "ssl.key.password", "ssl.key.pem", "sasl.oauthbearer.client.secret"]

    /// The value to show for `key` in logs and errors: secrets become `<redacted>`.
    public static func redacted(_ key: String, _ value: String) -> String {
        secretKeys.contains(key) ? "<redacted>" : value
    }
}

/// A compression codec for produced messages (`compression.codec`).
public struct KafkaCompressionCodec: Sendable, Hashable, CustomStringConvertible {
    /// librdkafka's name for it.
    public let name: String
    public static let none = KafkaCompressionCodec(name: "none")
    public static let gzip = KafkaCompressionCodec(name: "gzip")
    public static let snappy = KafkaCompressionCodec(name: "snappy")
    public static let lz4 = KafkaCompressionCodec(name: "lz4")
    public static let zstd = KafkaCompressionCodec(name: "zstd")
    public var description: String { name }

    /// The codec called `name`, or nil when librdkafka knows no such codec.
    public init?(named name: String) {
        guard ["none", "gzip", "snappy", "lz4", "zstd"].contains(name.lowercased()) else { return nil }
        self.name = name.lowercased()
    }

    private init(name: String) { self.name = name }
}

extension Duration {
    /// The duration in whole milliseconds (rounded down), for librdkafka's `*.ms` properties.
    var milliseconds: Int { Int(self / .milliseconds(1)) }
}
