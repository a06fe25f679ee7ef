import Foundation

/// A fresh directory under the temporary directory, named `<prefix>-<UUID>`.
package func temporaryDirectory(prefix: String = "npm-mirror-test") throws -> String {
    let path = NSTemporaryDirectory() + "\(prefix)-\(UUID().uuidString)"
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}
