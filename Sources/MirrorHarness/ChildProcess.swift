#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Foundation
import MirrorRuntime
import Subprocess
import Synchronization
import SystemPackage

/// How a child process ended, how long it ran and, when measured, what it used.
public struct ChildResult: Sendable {
    public var exitCode: Int32?
    public var signal: Int32?
    public var wallSeconds: Double
    /// Peak resident memory (`ru_maxrss`), when the child ran under GNU time.
    public var peakRSSBytes: Int64?
    public var userSeconds: Double?
    public var systemSeconds: Double?

    public var succeeded: Bool { exitCode == 0 }
    public var cpuSeconds: Double { (userSeconds ?? 0) + (systemSeconds ?? 0) }

    public var ending: String {
        if let exitCode { return "exit \(exitCode)" }
        return "signal \(signal ?? 0)"
    }
}

/// What a short program printed, and how it ended (128 + the signal when one ended it).
public struct ChildOutput: Sendable {
    public var status: Int32
    public var bytes: [UInt8]
    public var text: String { String(decoding: bytes, as: UTF8.self) }
}

public struct ChildProcessError: Error, CustomStringConvertible {
    public var description: String
}

/// A program run as a child process, through swift-subprocess: the one way the project starts
/// programs (the harnesses' real `changes-producer` and `changes-consumer`, `npm-mirror serve`,
/// nginx and Prometheus beside them, and the tools the tests call).
///
/// ``start(_:arguments:environment:logFile:directory:measured:)`` runs a long-lived program with
/// standard output and error appended to a log file and no other descriptor inherited (a child
/// holding a copy of a listening socket would keep its port bound after this process closed it);
/// ``output(_:_:environment:directory:mergingStandardError:)`` runs a short one to its end and returns
/// what it printed.
///
/// With `measured`, the program runs under `/usr/bin/time`. Why not this process's own `wait4`:
/// the child starts on this process's memory (vfork), and Linux carries that memory's high-water
/// mark into the child's `ru_maxrss` across `exec`, so every child would seem as large as the
/// harness. time forks from its own small image, so what it reports is the program's own peak.
public final class ChildProcess: Sendable {
    public static let timeExecutable = "/usr/bin/time"

    public let pid: pid_t
    public let executable: String
    private let start: ContinuousClock.Instant
    private let statsFile: String?
    private let execution: Task<TerminationStatus, any Error>
    private let reaped: Flag

    /// Whether the program has ended (and been reaped: its pid is no longer its own).
    public var hasEnded: Bool { reaped.state.withLock { $0 } }

    public static func start(
        _ executable: String,
        arguments: [String] = [],
        environment: [String: String],
        logFile: String,
        directory: String? = nil,
        measured: Bool = false
    ) async throws -> ChildProcess {
        let statsFile = measured ? logFile + ".time" : nil
        let start = ContinuousClock.now
        let (program, programArguments) = statsFile.map { stats in
            (Self.timeExecutable, ["--format", "%M %U %S", "--output", stats, executable] + arguments)
        } ?? (executable, arguments)
        let log: FileDescriptor
        do {
            log = try FileDescriptor.open(
                FilePath(logFile), .writeOnly, options: [.append, .create, .closeOnExec], permissions: [.ownerReadWrite, .groupRead, .otherRead])
        } catch {
            throw ChildProcessError(description: "could not open the log file \(logFile) for \(executable): \(error)")
        }
        let reaped = Flag()
        let (pids, spawned) = AsyncThrowingStream.makeStream(of: pid_t.self)
        let execution = Task {
            defer { reaped.state.withLock { $0 = true } }
            do {
                let result = try await Subprocess.run(
                    .path(FilePath(program)),
                    arguments: Arguments(programArguments),
                    environment: try Self.environment(environment),
                    workingDirectory: directory.map { FilePath($0) },
                    input: .none,
                    output: .fileDescriptor(log, closeAfterSpawningProcess: true),
                    error: .combinedWithOutput
                ) { execution in
                    spawned.yield(execution.processIdentifier.value)
                }
                spawned.finish()
                return result.terminationStatus
            } catch {
                spawned.finish(throwing: error)
                throw error
            }
        }
        for try await pid in pids {
            return ChildProcess(pid: pid, executable: executable, start: start, statsFile: statsFile, execution: execution, reaped: reaped)
        }
        _ = try await execution.value
        throw ChildProcessError(description: "could not start \(executable)")
    }

    /// Starts the program, waits for it (killing it after `timeout`) and returns how it went.
    public static func run(
        _ executable: String,
        arguments: [String] = [],
        environment: [String: String],
        logFile: String,
        measured: Bool = false,
        timeout: Duration
    ) async throws -> ChildResult {
        try await start(executable, arguments: arguments, environment: environment, logFile: logFile, measured: measured).wait(timeout: timeout)
    }

    /// Runs a short program to its end: its status (128 + the signal when one ended it) and its
    /// standard output (with `mergingStandardError`, standard error too), at most `limit` bytes.
    /// `environment` replaces this process's own when given; standard input is empty.
    public static func output(
        _ executable: String,
        _ arguments: [String],
        environment: [String: String]? = nil,
        directory: String? = nil,
        mergingStandardError: Bool = false,
        limit: Int = 64 << 20
    ) async throws -> ChildOutput {
        let environment = try environment.map(Self.environment) ?? .inherit
        let workingDirectory = directory.map { FilePath($0) }
        let status: TerminationStatus
        let bytes: [UInt8]
        if mergingStandardError {
            let result = try await Subprocess.run(
                .path(FilePath(executable)), arguments: Arguments(arguments), environment: environment,
                workingDirectory: workingDirectory, input: .none, output: .bytes(limit: limit), error: .combinedWithOutput)
            (status, bytes) = (result.terminationStatus, result.standardOutput)
        } else {
            let result = try await Subprocess.run(
                .path(FilePath(executable)), arguments: Arguments(arguments), environment: environment,
                workingDirectory: workingDirectory, input: .none, output: .bytes(limit: limit), error: .discarded)
            (status, bytes) = (result.terminationStatus, result.standardOutput)
        }
        switch status {
        case .exited(let code): return ChildOutput(status: code, bytes: bytes)
        case .signaled(let signal): return ChildOutput(status: 128 + signal, bytes: bytes)
        }
    }

    private init(pid: pid_t, executable: String, start: ContinuousClock.Instant, statsFile: String?, execution: Task<TerminationStatus, any Error>, reaped: Flag) {
        self.pid = pid
        self.executable = executable
        self.start = start
        self.statsFile = statsFile
        self.execution = execution
        self.reaped = reaped
    }

    private static func environment(_ variables: [String: String]) throws -> Environment {
        var custom: [Environment.Key: String] = [:]
        for (name, value) in variables {
            guard let key = Environment.Key(rawValue: name) else {
                throw ChildProcessError(description: "\(name) cannot be an environment variable's name")
            }
            custom[key] = value
        }
        return .custom(custom)
    }

    /// Sends `signal` to the program (under time: to time's child, the program itself). Nothing
    /// once it has ended: its pid may belong to another process by then.
    public func send(_ signal: Int32) {
        reaped.state.withLock { ended in
            guard !ended else { return }
            if statsFile != nil {
                // time forwards nothing; signal its children (the program) directly.
                for child in Self.children(of: pid) { kill(child, signal) }
                if signal == SIGKILL { kill(pid, SIGKILL) }
            } else {
                kill(pid, signal)
            }
        }
    }

    /// Waits for the program to end, killing it (SIGKILL) if it runs past `timeout`.
    public func wait(timeout: Duration) async throws -> ChildResult {
        let killer = Task {
            try await Task.sleep(for: timeout)
            self.send(SIGKILL)
        }
        defer { killer.cancel() }
        return try await wait()
    }

    /// Waits for the program to end.
    public func wait() async throws -> ChildResult {
        let ending = try await execution.value
        let wall = (ContinuousClock.now - start).seconds
        let (exitCode, signal): (Int32?, Int32?) =
            switch ending {
            case .exited(let code): (code, nil)
            case .signaled(let signal): (nil, signal)
            }
        guard let statsFile else {
            return ChildResult(exitCode: exitCode, signal: signal, wallSeconds: wall)
        }
        // time exits with the program's status (a signal shows as 128 + signal). Its last line is
        // "maxrss-KiB user-seconds system-seconds"; a line before it may say how the program ended.
        let stats = ((try? String(contentsOfFile: statsFile, encoding: .utf8)) ?? "")
            .split(separator: "\n").last.map { $0.split(separator: " ").compactMap { Double($0) } } ?? []
        guard stats.count == 3 else {
            throw ChildProcessError(description: "\(Self.timeExecutable) left no figures for \(executable) in \(statsFile) (\(exitCode.map { "exit \($0)" } ?? "signal \(signal ?? 0)"))")
        }
        return ChildResult(
            exitCode: exitCode.flatMap { $0 < 128 ? $0 : nil },
            signal: signal ?? exitCode.flatMap { $0 >= 128 ? $0 - 128 : nil },
            wallSeconds: wall,
            peakRSSBytes: Int64(stats[0]) * 1024,
            userSeconds: stats[1],
            systemSeconds: stats[2]
        )
    }

    private static func children(of parent: pid_t) -> [pid_t] {
        let listed = (try? String(contentsOfFile: "/proc/\(parent)/task/\(parent)/children", encoding: .utf8)) ?? ""
        return listed.split(separator: " ").compactMap { pid_t($0) }
    }
}

/// Whether the program has ended: set by the task that runs it, read under the same lock as a signal
/// is sent (a signal never goes to a pid that was reaped).
private final class Flag: Sendable {
    let state = Mutex(false)
}

extension Duration {
    /// The duration in seconds, as a `Double`.
    public var seconds: Double { self / .seconds(1) }
}
