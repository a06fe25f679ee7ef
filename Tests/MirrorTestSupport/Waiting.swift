/// Checks `condition` every 50 ms until it holds or `limit` passes; returns whether it held.
package func eventually(within limit: Duration, _ condition: () async throws -> Bool) async rethrows -> Bool {
    let deadline = ContinuousClock.now + limit
    while true {
        if try await condition() { return true }
        if ContinuousClock.now >= deadline { return false }
        try? await Task.sleep(for: .milliseconds(50))
    }
}

/// Runs `operation` until it returns or `limit` passes (then it is cancelled and `TimeLimitExceeded` thrown).
package func withinTimeLimit(_ limit: Duration, _ operation: @escaping @Sendable () async throws -> Void) async throws {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await operation() }
        group.addTask {
            try await Task.sleep(for: limit)
            throw TimeLimitExceeded()
        }
        try await group.next()
        group.cancelAll()
    }
}

/// What a test's own time limit throws.
package struct TimeLimitExceeded: Error {
    package init() {}
}
