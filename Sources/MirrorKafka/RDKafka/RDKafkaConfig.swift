import CRdKafka

/// Builds librdkafka's `rd_kafka_conf_t` from a property dictionary.
enum RDKafkaConfig {
    /// A new `rd_kafka_conf_t` holding `properties`, with `context` as its opaque.
    ///
    /// The caller owns the result until `rd_kafka_new` succeeds with it.
    static func make(properties: [String: String], context: RDKafkaClientContext) throws -> OpaquePointer {
        guard let conf = rd_kafka_conf_new() else {
            throw KafkaError(code: .configuration, message: "rd_kafka_conf_new returned nothing", isRetriable: false)
        }
        var errorText = [CChar](repeating: 0, count: 512)
        for (key, value) in properties.sorted(by: { $0.key < $1.key }) {
            let result = rd_kafka_conf_set(conf, key, value, &errorText, errorText.count)
            guard result == RD_KAFKA_CONF_OK else {
                rd_kafka_conf_destroy(conf)
                let reason = MirrorKafka.errorText(errorText)
                throw KafkaError(
                    code: .configuration,
                    message: "librdkafka refused \(key)=\(KafkaSecurityConfiguration.redacted(key, value)): \(reason)",
                    isRetriable: false
                )
            }
        }
        rd_kafka_conf_set_opaque(conf, Unmanaged.passUnretained(context).toOpaque())
        rd_kafka_conf_set_log_cb(conf) { handle, level, facility, text in
            guard let handle, let opaque = rd_kafka_opaque(handle) else { return }
            let context = Unmanaged<RDKafkaClientContext>.fromOpaque(opaque).takeUnretainedValue()
            context.log(level: level, facility: facility.map { String(cString: $0) } ?? "", text: text.map { String(cString: $0) } ?? "")
        }
        rd_kafka_conf_set_error_cb(conf) { _, err, reason, opaque in
            guard let opaque else { return }
            let context = Unmanaged<RDKafkaClientContext>.fromOpaque(opaque).takeUnretainedValue()
            context.clientError(rd_kafka_resp_err_t(err), reason: reason.map { String(cString: $0) } ?? "")
        }
        return conf
    }
}

/// The text librdkafka wrote into an error buffer (NUL-terminated).
func errorText(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
