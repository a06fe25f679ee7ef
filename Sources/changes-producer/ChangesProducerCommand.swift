import ArgumentParser
import Logging
import MirrorConfig
import MirrorPipeline
import Prometheus
import MirrorRuntime

@main
struct ChangesProducerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "changes-producer",
        abstract: "Follows the npm registry's changes feed into a partitioned Kafka topic.",
        discussion: """
            Resumes from the highest seq in the topic or update_seq/update_seq.json (whichever is higher), \
            else from config.json's update_seq. Needs KAFKA_BROKERS; `npm-mirror run` starts an embedded broker instead.
            """
    )

    @OptionGroup var options: ConfigurationOptions

    @Flag(help: "Stop cleanly once the acknowledged seq reaches the registry's update_seq as it was at start.")
    var exitWhenCaughtUp = false

    func run() async throws {
        let configuration = try options.load()
        let logger = MirrorLogging.bootstrap(label: "changes-producer", level: configuration.logLevel)
        guard let brokers = configuration.kafka.brokers else {
            throw ValidationError("changes-producer needs KAFKA_BROKERS (or --kafka-brokers); `npm-mirror run` runs with an embedded broker instead.")
        }
        let registry = PrometheusCollectorRegistry()
        // RECONCILE_INTERVAL compares the registry's list with the records: only then are they opened.
        let records = configuration.reconcile.interval == nil ? nil : try configuration.records.openStore(logger: logger).store
        let application = try ProducerApplication(
            configuration: configuration,
            bootstrapServers: brokers,
            exitWhenCaughtUp: exitWhenCaughtUp,
            records: records,
            metricsRegistry: registry,
            logger: logger
        )
        try await application.run(logger: logger)
    }
}
