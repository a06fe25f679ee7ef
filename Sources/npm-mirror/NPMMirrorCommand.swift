import ArgumentParser
import EmbeddedDemo
import Foundation
import MirrorConfig
import MirrorEmbedded
import MirrorServe
import MirrorPipeline
import MirrorRuntime

@main
struct NPMMirrorCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "npm-mirror",
        abstract: "Replicates the npm registry through Kafka into a package store and a record database.",
        subcommands: [Run.self, Serve.self, Demo.self, Status.self, Verify.self, Reconcile.self, Export.self, CheckLockfile.self, Pin.self, ShowConfiguration.self]
    )
}

/// `npm-mirror run`: producer, watchdog and consumers in one process.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the producer, its lag watchdog and consumers in this process.",
        discussion: """
            Without KAFKA_BROKERS an embedded broker is started; it keeps nothing across restarts, so the producer then \
            resumes from update_seq/update_seq.json. Without COUCHDB_URL records go to DBDATA_DIR/DATABASE_NAME.sqlite. \
            SIGTERM or SIGINT stops it gracefully.
            """
    )

    @OptionGroup var options: ConfigurationOptions

    @Option(help: "Consumers to run in this process.")
    var consumers = 1

    @Flag(help: "Run the demo instead (same as `npm-mirror demo`).")
    var demo = false

    func run() async throws {
        if demo {
            var command = Demo()
            command.options = options
            try await command.run()
            return
        }
        let configuration = try options.load()
        let logger = MirrorLogging.bootstrap(label: "npm-mirror", level: configuration.logLevel)
        let mirror = try EmbeddedMirror(configuration: configuration, consumers: consumers, logger: logger)
        try await mirror.run(logger: logger)
    }
}

/// `npm-mirror serve`: the store as a read-only npm registry.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the mirror's store as a read-only npm registry (npm, pnpm and yarn install from it).",
        discussion: """
            Reads REMOTE_PACKAGE_DIR (the store) and the record store (COUCHDB_URL, or DBDATA_DIR's SQLite file) for \
            search; listens on SERVE_HOST:SERVE_PORT. Tarball URLs point at PUBLIC_URL, or at the request's Host. \
            Several serve processes may share one store while a consumer writes to it. SIGTERM or SIGINT stops it gracefully.
            """
    )

    @OptionGroup var options: ConfigurationOptions

    @Option(help: "Port to listen on (same as --serve-port / SERVE_PORT).")
    var port: String?

    func run() async throws {
        var options = options
        if let port { options.servePort = port }
        let configuration = try options.load()
        let logger = MirrorLogging.bootstrap(label: "npm-mirror", level: configuration.logLevel)
        let application = try ServeApplication(configuration: configuration, logger: logger)
        try await application.run(logger: logger)
    }
}

/// `npm-mirror demo`: a generated registry mirrored end to end, offline.
struct Demo: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Mirror a small generated registry end to end (no network needed) and print a summary.",
        discussion: "Starts the registry simulator, an embedded broker and an embedded database in this process. Everything goes under --directory, which is cleared first."
    )

    @OptionGroup var options: ConfigurationOptions

    @Option(help: "Packages in the generated registry.")
    var packages = 200

    @Option(help: "Seed of the generated registry.")
    var seed: UInt64 = 42

    @Option(help: "Folder for the demo's store, checkpoints and database (cleared first).")
    var directory = "./demo"

    func run() async throws {
        let configuration = try options.load()
        let logger = MirrorLogging.bootstrap(label: "npm-mirror", level: configuration.logLevel == "info" ? "notice" : configuration.logLevel)
        let summary = try await MirrorDemo.run(base: configuration, directory: directory, packages: packages, seed: seed, logger: logger)
        print(summary)
    }
}

/// `npm-mirror status`.
struct Status: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the state of the configured stack: topic, group lag, seqs, registry head, store size, record count."
    )

    @OptionGroup var options: ConfigurationOptions

    @Flag(help: "Count every tarball in the store, however long it takes (by default the count stops after 10 s and says it is a lower bound).")
    var countAll = false

    func run() async throws {
        let configuration = try options.load()
        let logger = MirrorLogging.bootstrap(label: "npm-mirror", level: "error")
        let budget = countAll ? nil : MirrorStatus.defaultCountBudget
        for line in await MirrorStatus.report(configuration: configuration, countBudget: budget, logger: logger) { print(line) }
    }
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
