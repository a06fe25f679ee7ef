import Logging
import RegistrySimulator

/// Runs `body` beside a simulator with `packages` generated packages, stopping it afterwards (also on failure).
package func withSimulator<T>(
    packages: Int = 60,
    seed: UInt64 = 11,
    logLevel: Logger.Level = .critical,
    _ configure: (inout RegistrySimulator.Configuration) -> Void = { _ in },
    _ body: (RegistrySimulator) async throws -> T
) async throws -> T {
    var configuration = RegistrySimulator.Configuration()
    configuration.packages = packages
    configuration.seed = seed
    configure(&configuration)
    var logger = testLogger
    logger.logLevel = logLevel
    return try await withRegistrySimulator(configuration: configuration, logger: logger, body)
}
