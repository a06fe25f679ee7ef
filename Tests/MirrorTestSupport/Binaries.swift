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
