import CRdKafka
import Logging

/// What librdkafka's callbacks need to reach: the logger and, for producers, the delivery tracker;
/// for consumers, the rebalance handler.
///
/// It is the `opaque` of the client's configuration, so it must outlive the `rd_kafka_t`:
/// ``RDKafkaClient`` holds it.
final class RDKafkaClientContext: Sendable {
    let logger: Logger
    let deliveryTracker: DeliveryTracker?
    let rebalanceHandler: RebalanceHandler?

    init(logger: Logger, deliveryTracker: DeliveryTracker? = nil, rebalanceHandler: RebalanceHandler? = nil) {
        self.logger = logger
        self.deliveryTracker = deliveryTracker
        self.rebalanceHandler = rebalanceHandler
    }

    /// librdkafka's log line, at the matching swift-log level (syslog levels: 0 emergency … 7 debug).
    func log(level: Int32, facility: String, text: String) {
        var swiftLevel: Logger.Level =
            switch level {
            case ...3: .error
            case 4: .warning
            case 5, 6: .info
            default: .debug
            }
        // librdkafka's mock cluster answers with old API versions, so every client warns that it cannot
        // ask it not to auto-create topics; that says nothing about a real cluster.
        if facility == "AUTOCREATE" { swiftLevel = .debug }
        logger.log(level: swiftLevel, "\(text)", metadata: ["kafka.facility": "\(facility)"], source: "librdkafka")
    }

    /// A client-level error (all brokers down, authentication failure, …). librdkafka keeps retrying
    /// by itself unless the error is fatal.
    func clientError(_ err: rd_kafka_resp_err_t, reason: String) {
        let level: Logger.Level = err == RD_KAFKA_RESP_ERR__FATAL ? .critical : .warning
        logger.log(
            level: level,
            "Kafka client error: \(reason)",
            metadata: ["kafka.error": "\(String(cString: rd_kafka_err2name(err)))"]
        )
    }
}
