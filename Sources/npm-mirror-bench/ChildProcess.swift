#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Foundation

/// One finished child process: how it ended, how long it ran, and its peak memory as the kernel
/// counted it (`ru_maxrss`, through GNU time), so no sampling can miss a short peak.
struct ChildResult: Sendable {
    var exitCode: Int32?
    var signal: Int32?
    var wallSeconds: Double
    var peakRSSBytes: Int64
    var userSeconds: Double
    var systemSeconds: Double

    var succeeded: Bool { exitCode == 0 }

    var ending: String {
        if let exitCode { return "exit \(exitCode)" }
        return "signal \(signal ?? 0)"
    }
}

struct ChildProcessError: Error, CustomStringConvertible {
    var description: String
}

/// Starts a program under `/usr/bin/time` with `posix_spawn` (stdout and stderr to a log file)
/// and waits for it on a thread of its own.
///
/// Why GNU time and not this process's own `wait4`: `posix_spawn` starts the child on this
/// process's memory (vfork), and Linux carries that memory's high-water mark into the child's
/// `ru_maxrss` across `exec`, so every child would seem as large as the benchmark itself. time
/// forks from its own small image, so what it reports is the program's own peak.
enum ChildProcess {
    static let timeExecutable = "/usr/bin/time"

    static func run(
        _ executable: String,
        arguments: [String] = [],
        environment: [String: String],
        logFile: String,
        timeout: Duration
    ) async throws -> ChildResult {
        let start = ContinuousClock.now
        let statsFile = logFile + ".time"
        let pid = try spawn(
            timeExecutable,
            arguments: ["--format", "%M %U %S", "--output", statsFile, executable] + arguments,
            environment: environment,
            logFile: logFile
        )
        let killer = Task {
            try await Task.sleep(for: timeout)
            kill(pid, SIGKILL)
        }
        defer { killer.cancel() }
        let status = await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            DispatchQueue.global().async {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                continuation.resume(returning: status)
            }
        }
        let wall = ContinuousClock.now - start
        // time exits with the program's status; a program killed by a signal shows as 128 + signal.
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        // The last line is "maxrss-KiB user-seconds system-seconds" (a line before it may say how the program ended).
        let stats = ((try? String(contentsOfFile: statsFile, encoding: .utf8)) ?? "")
            .split(separator: "\n").last.map { $0.split(separator: " ").compactMap { Double($0) } } ?? []
        guard stats.count == 3 else {
            throw ChildProcessError(description: "\(timeExecutable) left no figures for \(executable) in \(statsFile) (\(exited ? "exit \(code)" : "signal \(status & 0x7f)"))")
        }
        return ChildResult(
            exitCode: exited && code < 128 ? code : nil,
            signal: !exited ? status & 0x7f : code >= 128 ? code - 128 : nil,
            wallSeconds: wall.seconds,
            peakRSSBytes: Int64(stats[0]) * 1024,
            userSeconds: stats[1],
            systemSeconds: stats[2]
        )
    }

    private static func spawn(_ executable: String, arguments: [String], environment: [String: String], logFile: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logFile, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer {
            argv.forEach { free($0) }
            envp.forEach { free($0) }
        }
        var pid: pid_t = 0
        let result = posix_spawn(&pid, executable, &actions, nil, argv, envp)
        guard result == 0 else {
            throw ChildProcessError(description: "could not start \(executable): \(String(cString: strerror(result)))")
        }
        return pid
    }
}

extension Duration {
    var seconds: Double {
        let (seconds, attoseconds) = components
        return Double(seconds) + Double(attoseconds) / 1e18
    }
}
