import ArgumentParser
import Foundation
import MirrorConfig
import MirrorPipeline
import MirrorVerify
import MirrorRuntime

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `npm-mirror verify`: the whole store re-checked offline, or one packument file's signatures.
struct Verify: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Re-check the whole store offline: tarball digests, registry signatures, attestations, records, unexplained files.",
        discussion: """
            Reads REMOTE_PACKAGE_DIR and, when present, the records (COUCHDB_URL, or DBDATA_DIR's SQLite file); trusts \
            the keys of NPM_SIGNING_KEYS (npm's built-in keys when unset); with FETCH_TARBALLS=false every packument \
            version is kept. Every stored tarball is hashed against the stored packument's dist; every kept version's \
            signature must be verified; every stored attestations response must not be invalid; every file must be \
            explained by a packument or a record. Nothing is fetched. Exit status: 0 when everything holds, 1 when \
            something does not (the failures are listed), 2 when nothing could be verified (no store, a bad keys file \
            or packument file).

            With --packument FILE, verifies the registry signatures of every version of that packument file instead \
            (its "name", each version's "time" entry) and prints each version's verdict. Exit status 1 when a version \
            that has signatures is not verified; a version without signatures is "missing" and does not fail it by itself.
            """
    )

    @OptionGroup var options: ConfigurationOptions

    @Flag(help: "Write the report as JSON to standard output.")
    var json = false

    @Option(help: ArgumentHelp("Verify the signatures of this packument file (JSON) instead of the store.", valueName: "file"))
    var packument: String?

    @Option(help: "Package folders checked at once (default: the active processor count).")
    var jobs: Int?

    func validate() throws {
        if let jobs, jobs < 1 { throw ValidationError("--jobs must be at least 1, got \(jobs)") }
    }

    func run() async throws {
        do {
            let configuration = try options.load()
            let logger = MirrorLogging.bootstrap(label: "npm-mirror", level: "error")
            if let packument {
                let keys = try StoreVerification.trustedKeys(configuration)
                let check = try PackumentSignatureCheck(contentsOfFile: packument, keys: keys)
                if json { print(check.jsonText) } else { check.lines.forEach { print($0) } }
                if !check.holds { throw ExitCode(1) }
                return
            }
            let verification = try StoreVerification(configuration: configuration, concurrency: jobs, logger: logger)
            let report = try await Self.run(verification, showingProgress: isatty(STDERR_FILENO) == 1)
            if json { print(report.jsonText) } else { report.summaryLines().forEach { print($0) } }
            if !report.holds { throw ExitCode(1) }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            FileHandle.standardError.write(Data("npm-mirror verify: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    /// Runs the verification, with a progress line on standard error when asked (a terminal).
    static func run(_ verification: StoreVerification, showingProgress: Bool) async throws -> VerificationReport {
        let progress = VerificationProgress()
        guard showingProgress else { return try await verification.run(progress: progress) }
        let started = ContinuousClock.now
        return try await withThrowingTaskGroup(of: VerificationReport?.self) { group in
            group.addTask { try await verification.run(progress: progress) }
            group.addTask {
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(250))
                    let line = progressLine(progress.snapshot, since: started)
                    FileHandle.standardError.write(Data("\r\u{1B}[K\(line)".utf8))
                }
                FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
                return nil
            }
            defer { group.cancelAll() }
            while let result = try await group.next() {
                if let report = result {
                    group.cancelAll()
                    try await group.waitForAll()
                    return report
                }
            }
            throw CancellationError()
        }
    }

    static func progressLine(_ snapshot: VerificationProgress.Snapshot, since started: ContinuousClock.Instant) -> String {
        let (seconds, attoseconds) = (ContinuousClock.now - started).components
        let elapsed = Double(seconds) + Double(attoseconds) / 1e18
        let rate = elapsed > 0 ? Double(snapshot.bytesHashed) / 1_000_000 / elapsed : 0
        let bytes = ByteCountFormatter.string(fromByteCount: snapshot.bytesHashed, countStyle: .file)
        return String(
            format: "verifying: %ld/%ld packages, %ld tarballs, %@, %.1f MB/s", snapshot.packagesDone, snapshot.packagesTotal,
            snapshot.tarballs, bytes, rate)
    }
}
