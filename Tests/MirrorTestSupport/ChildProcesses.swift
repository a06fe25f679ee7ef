import Foundation
import MirrorHarness

/// Runs a program to its end and returns its exit status and standard output: the tests' spelling
/// of ``ChildProcess/output(_:_:environment:directory:mergingStandardError:limit:)``.
/// With `mergingStandardError`, standard error goes to the same output; `environment` replaces the
/// test process's own when given. Standard input is empty.
package func runProgram(
    _ executable: URL,
    _ arguments: [String],
    in directory: URL? = nil,
    environment: [String: String]? = nil,
    mergingStandardError: Bool = false
) async throws -> (status: Int32, output: String) {
    let result = try await ChildProcess.output(
        executable.path, arguments, environment: environment, directory: directory?.path, mergingStandardError: mergingStandardError)
    return (result.status, result.text)
}
