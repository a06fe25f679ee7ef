import ArgumentParser
import AsyncHTTPClient
import Logging
import MirrorConfig
import MirrorPipeline
import MirrorRecords
import Prometheus
import MirrorRuntime

@main
struct ChangesConsumerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "changes-consumer",
        abstract: "Fetches, verifies and stores the packages named by the changes topic, and records them in CouchDB.",
        discussion: """
            A member of the consumer group KAFKA_CONSUMER_GROUP: run several to share the partitions. Needs KAFKA_BROKERS and \
            COUCHDB_URL; `npm-mirror run` runs with an embedded broker and database instead.
            """
    )

    @OptionGroup var options: ConfigurationOptions

    @Option(help: "Stop cleanly once every assigned partition is consumed to its end and nothing arrived for this many seconds.")
    var exitWhenIdle: Double?

    func run() async throws {
        let configuration = try options.load()
        let logger = MirrorLogging.bootstrap(label: "changes-consumer", level: configuration.logLevel)
        guard let brokers = configuration.kafka.brokers else {
            throw ValidationError("changes-consumer needs KAFKA_BROKERS (or --kafka-brokers); `npm-mirror run` runs with an embedded broker instead.")
        }
        guard let couchDBURL = configuration.records.couchDBURL else {
            throw ValidationError("changes-consumer needs COUCHDB_URL; `npm-mirror run` writes to an embedded database instead.")
        }
        let records = CouchDBRecordStore(
            configuration: try CouchDBConfiguration(
                url: couchDBURL,
                database: configuration.records.databaseName,
                user: configuration.records.couchDBUser,
                password: configuration.records.couchDBPassword
            ),
            logger: logger
        )
        let application = try ConsumerApplication(
            configuration: configuration,
            bootstrapServers: brokers,
            records: records,
            exitWhenIdle: exitWhenIdle.map { .milliseconds(Int64($0 * 1000)) },
            metricsRegistry: PrometheusCollectorRegistry(),
            logger: logger
        )
        try await application.run(logger: logger)
    }
}
