import MirrorConfig
import MirrorKafka

extension MirrorConfiguration.Kafka {
    /// The client settings for these brokers (nil brokers: the caller supplies an embedded cluster's address).
    public func clientConfiguration(bootstrapServers: String, clientID: String) -> KafkaClientConfiguration {
        var client = KafkaClientConfiguration(bootstrapServers: bootstrapServers)
        client.clientID = clientID
        client.security = KafkaSecurityConfiguration(
            securityProtocol: security.securityProtocol,
            saslMechanism: security.saslMechanism,
            saslUsername: security.saslUsername,
            saslPassword: security.saslPassword,
            sslCALocation: security.sslCALocation,
            sslCertificateLocation: security.sslCertificateLocation,
            sslKeyLocation: security.sslKeyLocation,
            sslKeyPassword: security.sslKeyPassword
        )
        return client
    }
}
