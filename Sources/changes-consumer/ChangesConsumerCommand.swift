import ArgumentParser
import MirrorConfig

@main
struct ChangesConsumerCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "changes-consumer",
        abstract: "Fetches, verifies and stores the packages named by the changes topic, and records them."
    )

    @OptionGroup var options: ConfigurationOptions

    func run() async throws {
        _ = try options.load()
        throw CleanExit.message("changes-consumer: the configuration is valid, but consuming is not built yet.")
    }
}
