import ArgumentParser
import Foundation
import Logging
import RegistrySimulator
import ServiceLifecycle
import UnixSignals

@main
struct NPMRegistrySim: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "npm-registry-sim",
        abstract: "Simulates the npm replicate and registry services, with fault injection.",
        discussion: """
            Prints NPM_REPLICATE_URL=… and NPM_REGISTRY_URL=… once both services listen,
            then serves until SIGINT or SIGTERM. Faults: --fault KIND[@TARGET[+TARGET]][,key=value…]
            with KIND one of \(FaultKind.all.map(\.rawValue).joined(separator: ", ")),
            TARGET one of \(FaultTarget.all.map(\.rawValue).joined(separator: ", ")),
            keys probability, count, skip, status, retry-after, delay-ms, bytes-per-second, bytes, path.
            Example: --fault http-error@tarball,status=503,probability=0.05
            """
    )

    @Option(help: "Interface to bind.")
    var host: String = "127.0.0.1"

    @Option(help: "Registry service port (0: pick a free port).")
    var port: Int = 0

    @Option(help: "Replicate service port (0: pick a free port).")
    var replicatePort: Int = 0

    @Option(help: "Packages to generate.")
    var packages: Int = 1000

    @Option(help: "Seed of the generated registry, live changes and fault draws.")
    var seed: UInt64 = 1

    @Option(help: "Serve a registry directory (packuments/, tarballs/) instead of generating.")
    var from: String?

    @Option(help: "Random live changes per second.")
    var publishRate: Double = 0

    @Option(help: "Seconds a packument lags behind the rev announced in _changes.")
    var replicaLag: Double = 0

    @Option(help: "Add a package whose full packument is about this many bytes.")
    var hugePackumentBytes: Int = 0

    @Option(help: "Add a package whose tarball is about this many bytes.")
    var hugeTarballBytes: Int = 0

    @Option(name: .customLong("fault"), help: "A fault rule (repeatable); see below.")
    var faults: [String] = []

    @Option(help: "Seed of the fault draws (default: --seed).")
    var faultSeed: UInt64?

    @Flag(help: "Start with the changes feed stalled (update_seq advances, _changes returns nothing new).")
    var stallFeed: Bool = false

    @Option(help: "Log level (trace, debug, info, notice, warning, error, critical).")
    var logLevel: String = "info"

    func run() async throws {
        var logger = Logger(label: "npm-registry-sim")
        logger.logLevel = Logger.Level(rawValue: self.logLevel) ?? .info

        var configuration = RegistrySimulator.Configuration()
        configuration.host = self.host
        configuration.registryPort = self.port
        configuration.replicatePort = self.replicatePort
        configuration.packages = self.packages
        configuration.seed = self.seed
        configuration.directory = self.from
        configuration.publishRate = self.publishRate
        configuration.replicaLag = .milliseconds(Int64(self.replicaLag * 1000))
        configuration.hugePackumentBytes = self.hugePackumentBytes
        configuration.hugeTarballBytes = self.hugeTarballBytes
        configuration.faults = try self.faults.map { try FaultRule(spec: $0) }
        configuration.faultSeed = self.faultSeed
        configuration.stallFeed = self.stallFeed

        let simulator = try RegistrySimulator(configuration: configuration, logger: logger)
        var groupConfiguration = ServiceGroupConfiguration(services: [simulator], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        // A slow-response fault can hold an answer for minutes: a stop does not wait past 10 s.
        groupConfiguration.maximumGracefulShutdownDuration = .seconds(10)
        let serviceGroup = ServiceGroup(configuration: groupConfiguration)
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { try await serviceGroup.run() }
            try await simulator.listening()
            // Unbuffered, so scripts reading a pipe see the URLs at once.
            let announcement = "NPM_REPLICATE_URL=\(simulator.replicateURL)\nNPM_REGISTRY_URL=\(simulator.registryURL)\n"
            FileHandle.standardOutput.write(Data(announcement.utf8))
            try await group.waitForAll()
        }
    }
}
