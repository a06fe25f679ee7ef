import ArgumentParser
import MirrorConfig

@main
struct ChangesProducerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "changes-producer",
        abstract: "Follows the npm registry's changes feed into a partitioned Kafka topic."
    )

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        _ = try options.load()
        throw CleanExit.message("changes-producer: the configuration is valid, but following the feed is not built yet.")
    }
}
