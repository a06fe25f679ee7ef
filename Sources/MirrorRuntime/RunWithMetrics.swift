import AsyncHTTPClient
import Logging
import ServiceLifecycle
import UnixSignals

/// Runs `service` (and the services `beside` it) beside its metrics endpoint in one service group: the
/// group ends when any of them does (or on SIGTERM/SIGINT, gracefully: cancelled if it takes longer
/// than `shutdownBound`), and the HTTP client is shut down after it either way.
public func runWithMetrics(
    _ service: some Service,
    beside others: [any Service] = [],
    metricsEndpoint: MetricsEndpoint,
    httpClient: HTTPClient,
    signals: [UnixSignal],
    shutdownBound: Duration,
    logger: Logger
) async throws {
    var configuration = ServiceGroupConfiguration(
        services: [
            .init(service: metricsEndpoint, successTerminationBehavior: .gracefullyShutdownGroup),
            .init(service: service, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
        ] + others.map { .init(service: $0, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup) },
        gracefulShutdownSignals: signals,
        logger: logger
    )
    configuration.maximumGracefulShutdownDuration = shutdownBound
    let group = ServiceGroup(configuration: configuration)
    do {
        defer { metricsEndpoint.writeSnapshot() }
        try await group.run()
    } catch {
        try? await httpClient.shutdown()
        throw error
    }
    try await httpClient.shutdown()
}
