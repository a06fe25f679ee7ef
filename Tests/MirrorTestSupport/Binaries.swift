import Foundation

/// The repository this file is in.
package let repositoryRoot = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent()  // MirrorTestSupport
    .deletingLastPathComponent()  // Tests
    .deletingLastPathComponent()

/// The folder of the built executables: `NPM_MIRROR_BINARIES` when set (a path, absolute or relative to
/// the repository), else `<repository>/.build/debug`.
package let binariesDirectory: URL = {
    guard let configured = ProcessInfo.processInfo.environment["NPM_MIRROR_BINARIES"], !configured.isEmpty else {
        return repositoryRoot.appendingPathComponent(".build/debug")
    }
    return configured.hasPrefix("/")
        ? URL(fileURLWithPath: configured)
        : repositoryRoot.appendingPathComponent(configured).standardizedFileURL
}()

/// A built executable of this package (`changes-producer`, `npm-mirror`, …) in `binariesDirectory`.
package func builtExecutable(_ name: String) -> URL {
    binariesDirectory.appendingPathComponent(name)
}

/// An executable found on `PATH` (as a shell would), or nil: tools the tests drive, like npm.
package func executableOnPath(_ name: String) -> URL? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
    return path.split(separator: ":").lazy
        .map { URL(fileURLWithPath: String($0)).appendingPathComponent(name) }
        .first { FileManager.default.isExecutableFile(atPath: $0.path) }
}

/// A file of the recorded fixtures in the repository (`Tests/Fixtures/<set>/<name>`, provenance in each
/// set's README): npm responses (`npm-recorded`), signatures (`npm-signatures`), CouchDB answers
/// (`couchdb-recorded`).
package func recordedFixture(_ set: String, _ name: String = "") -> URL {
    repositoryRoot.appendingPathComponent("Tests/Fixtures/\(set)/\(name)")
}
