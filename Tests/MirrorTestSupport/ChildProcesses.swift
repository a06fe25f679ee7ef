import Dispatch
import Foundation

/// Runs a program to its end and returns its exit status and standard output, waiting on a Dispatch
/// thread: a test that blocked in `waitUntilExit()` would hold one of the few cooperative threads
/// for the whole run, and every other test of the process would wait behind it.
/// With `mergingStandardError`, standard error goes to the same output; `environment` replaces the
/// test process's own when given. Standard input is empty.
package func runProgram(
    _ executable: URL,
    _ arguments: [String],
    in directory: URL? = nil,
    environment: [String: String]? = nil,
    mergingStandardError: Bool = false
) async throws -> (status: Int32, output: String) {
    try await withCheckedThrowingContinuation { continuation in
        // A thread of its own: a wait of minutes on Dispatch's pool would take one of its few
        // threads from every blocking call of the process (Kafka polls, store writes) meanwhile.
        Thread.detachNewThread {
            let process = Process()
            process.executableURL = executable
            process.arguments = arguments
            if let directory { process.currentDirectoryURL = directory }
            if let environment { process.environment = environment }
            process.standardInput = FileHandle.nullDevice
            let pipe = Pipe()
            process.standardOutput = pipe
            if mergingStandardError { process.standardError = pipe }
            do {
                try process.run()
            } catch {
                continuation.resume(throwing: error)
                return
            }
            let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            continuation.resume(returning: (process.terminationStatus, output))
        }
    }
}
