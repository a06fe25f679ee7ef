import Foundation
import ArgumentParser
import MirrorConfig

@main
struct NPMMirrorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "npm-mirror",
        abstract: "Replicates the npm registry through Kafka into a package store and a record database.",
        subcommands: [ShowConfiguration.self]
    )
}

/// `npm-mirror config`: the configuration this process would run with, and where each value came from.
struct ShowConfiguration: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config",
        abstract: "Print the resolved configuration (secrets redacted) and where each value came from."
    )

    @OptionGroup var options: ConfigurationOptions

    @Flag(help: "Print the table of every setting (for README.md) instead of the resolved values.")
    var markdown = false

    func run() async throws {
        if markdown {
            print(Setting.markdownTable)
            return
        }
        let configuration = try options.load()
        let width = Setting.allCases.map(\.rawValue.count).max() ?? 0
        for entry in configuration.redactedSummary {
            print("\(entry.setting.rawValue.padding(toLength: width, withPad: " ", startingAt: 0))  \(entry.value)  (\(entry.source))")
        }
    }
}
