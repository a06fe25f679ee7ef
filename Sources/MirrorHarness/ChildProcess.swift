#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Foundation
import MirrorRuntime
import Synchronization

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

public struct ChildProcessError: Error, CustomStringConvertible {
    public var description: String
}

/// A program started with `posix_spawn`, stdout and stderr appended to a log file and no other
/// descriptor inherited; the harnesses
/// (benchmark, reliability suite) run the real `changes-producer` and `changes-consumer` this way,
/// so they can measure them and kill them.
///
/// With `measured`, the program runs under `/usr/bin/time`. Why not this process's own `wait4`:
/// `posix_spawn` starts the child on this process's memory (vfork), and Linux carries that memory's
/// high-water mark into the child's `ru_maxrss` across `exec`, so every child would seem as large as
/// the harness. time forks from its own small image, so what it reports is the program's own peak.
public final class ChildProcess: Sendable {
    public static let timeExecutable = "/usr/bin/time"

    public let pid: pid_t
    public let executable: String
    private let start: ContinuousClock.Instant
    private let statsFile: String?
    private let reaped = Mutex(false)

    /// Whether ``wait()`` has seen the program end.
    public var hasEnded: Bool { reaped.withLock { $0 } }

    public static func start(
        _ executable: String,
        arguments: [String] = [],
        environment: [String: String],
        logFile: String,
        measured: Bool = false
    ) throws -> ChildProcess {
        let statsFile = measured ? logFile + ".time" : nil
        let start = ContinuousClock.now
        let pid: pid_t
        if let statsFile {
            pid = try spawn(Self.timeExecutable, arguments: ["--format", "%M %U %S", "--output", statsFile, executable] + arguments, environment: environment, logFile: logFile)
        } else {
            pid = try spawn(executable, arguments: arguments, environment: environment, logFile: logFile)
        }
        return ChildProcess(pid: pid, executable: executable, start: start, statsFile: statsFile)
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

    private init(pid: pid_t, executable: String, start: ContinuousClock.Instant, statsFile: String?) {
        self.pid = pid
        self.executable = executable
        self.start = start
        self.statsFile = statsFile
    }

    /// Sends `signal` to the program (under time: to time's child, the program itself).
    public func send(_ signal: Int32) {
        if statsFile != nil {
            // time forwards nothing; signal its children (the program) directly.
            for child in Self.children(of: pid) { kill(child, signal) }
            if signal == SIGKILL { kill(pid, SIGKILL) }
        } else {
            kill(pid, signal)
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

    /// Waits for the program to end, on a thread of its own (never a cooperative one).
    public func wait() async throws -> ChildResult {
        let pid = self.pid
        // A thread of its own for a wait that lasts as long as the program: on BlockingWork's
        // (Dispatch's) few pool threads, waits of minutes starve every other blocking call.
        let status = await withCheckedContinuation { (continuation: CheckedContinuation<Int32, Never>) in
            Thread.detachNewThread {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
                continuation.resume(returning: status)
            }
        }
        reaped.withLock { $0 = true }
        let wall = (ContinuousClock.now - start).seconds
        let exited = (status & 0x7f) == 0
        let code = (status >> 8) & 0xff
        guard let statsFile else {
            return ChildResult(exitCode: exited ? code : nil, signal: exited ? nil : status & 0x7f, wallSeconds: wall)
        }
        // time exits with the program's status (a signal shows as 128 + signal). Its last line is
        // "maxrss-KiB user-seconds system-seconds"; a line before it may say how the program ended.
        let stats = ((try? String(contentsOfFile: statsFile, encoding: .utf8)) ?? "")
            .split(separator: "\n").last.map { $0.split(separator: " ").compactMap { Double($0) } } ?? []
        guard stats.count == 3 else {
            throw ChildProcessError(description: "\(Self.timeExecutable) left no figures for \(executable) in \(statsFile) (\(exited ? "exit \(code)" : "signal \(status & 0x7f)"))")
        }
        return ChildResult(
            exitCode: exited && code < 128 ? code : nil,
            signal: !exited ? status & 0x7f : code >= 128 ? code - 128 : nil,
            wallSeconds: wall,
            peakRSSBytes: Int64(stats[0]) * 1024,
            userSeconds: stats[1],
            systemSeconds: stats[2]
        )
    }

    private static func markDescriptorsCloseOnExec() {
        let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
        for fd in open.compactMap({ Int32($0) }) where fd > 2 {
            let flags = fcntl(fd, F_GETFD)
            if flags >= 0, flags & FD_CLOEXEC == 0 { _ = fcntl(fd, F_SETFD, flags | FD_CLOEXEC) }
        }
    }

    private static func children(of parent: pid_t) -> [pid_t] {
        let listed = (try? String(contentsOfFile: "/proc/\(parent)/task/\(parent)/children", encoding: .utf8)) ?? ""
        return listed.split(separator: " ").compactMap { pid_t($0) }
    }

    private static func spawn(_ executable: String, arguments: [String], environment: [String: String], logFile: String) throws -> pid_t {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logFile, O_WRONLY | O_CREAT | O_APPEND, 0o644)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        // Nothing else is inherited: a child holding a copy of one of this process's listening
        // sockets (a simulator's, the CouchDB double's) would keep that port bound after this
        // process closed it, and queue connections nobody answers. Swift's Glibc module does not
        // offer posix_spawn_file_actions_addclosefrom_np, so every open descriptor is marked
        // close-on-exec instead.
        markDescriptorsCloseOnExec()

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
    /// The duration in seconds, as a `Double`.
    public var seconds: Double { self / .seconds(1) }
}
