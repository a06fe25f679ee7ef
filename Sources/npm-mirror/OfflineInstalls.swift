import ArgumentParser
import Foundation
import MirrorConfig
import MirrorJSON
import MirrorLockfiles
import MirrorOffline
import MirrorStore

/// `npm-mirror check-lockfile`: can the mirror serve everything these lockfiles name, offline?
struct CheckLockfile: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check-lockfile",
        abstract: "Say whether the mirror can serve, offline, every package the lockfiles name.",
        discussion: """
            Reads package-lock.json / npm-shrinkwrap.json (lockfileVersion 1, 2, 3), pnpm-lock.yaml (6, 9) and yarn.lock \
            (classic and berry). For every registry package it looks in REMOTE_PACKAGE_DIR: the stored packument lists the \
            version, SERVE_MIN_AGE does not hold it back, its tarball is held, and the held tarball's digest equals the \
            lockfile's integrity (hashed with the strongest algorithm the lockfile gives). Git, file, link, workspace and \
            remote-tarball entries are listed as not_registry and do not fail the check. Nothing is fetched. Exit status: \
            0 when everything can be installed from the mirror, 1 when something cannot (listed), 2 when a lockfile or \
            the store cannot be read.
            """
    )

    @OptionGroup var options: ConfigurationOptions

    @Flag(help: "Write the report as JSON to standard output.")
    var json = false

    @Flag(help: "List every package, not only those that cannot be installed.")
    var all = false

    @Argument(help: ArgumentHelp("Lockfiles to check.", valueName: "file"))
    var files: [String]

    func run() throws {
        let reports: [LockfileCoverage.Report]
        do {
            let configuration = try options.load()
            let store = try PackageStore(
                root: configuration.storage.remotePackageDirectory, scratch: configuration.storage.localPackageDirectory,
                shardLength: configuration.storage.subdirectoryHashLength
            )
            let coverage = LockfileCoverage(
                store: store, metadataOnly: !configuration.consumer.fetchTarballs,
                cooldown: configuration.serve.minimumAge.map(ReleaseCooldown.init(minimumAge:))
            )
            reports = try files.map { path in coverage.check(try Lockfile.read(path: path), path: path) }
        } catch {
            FileHandle.standardError.write(Data("npm-mirror check-lockfile: \(error)\n".utf8))
            throw ExitCode(2)
        }
        if json {
            print(JSONValue.array(reports.map(\.json)).serialized)
        } else {
            for report in reports { print(Self.text(report, all: all)) }
        }
        if reports.contains(where: { !$0.installsOffline }) { throw ExitCode(1) }
    }

    static func text(_ report: LockfileCoverage.Report, all: Bool) -> String {
        let registry = report.rows.filter { $0.verdict != .notRegistry }
        let failing = report.rows.filter(\.verdict.failsInstall)
        var lines = ["\(report.path) (\(report.format.rawValue) v\(report.formatVersion)): \(registry.count) registry packages, "
            + (failing.isEmpty ? "all can be installed from the mirror" : "\(failing.count) cannot be installed from the mirror")]
        let shown = all ? report.rows : report.rows.filter { $0.verdict != .served }
        if !shown.isEmpty {
            let nameWidth = min(50, shown.map { ($0.name + "@" + ($0.version ?? "")).count }.max() ?? 0)
            let verdictWidth = shown.map(\.verdict.rawValue.count).max() ?? 0
            for row in shown {
                let package = row.name + (row.version.map { "@" + $0 } ?? "")
                lines.append("  " + package.padding(toLength: max(nameWidth, package.count), withPad: " ", startingAt: 0) + "  "
                    + row.verdict.rawValue.padding(toLength: verdictWidth, withPad: " ", startingAt: 0) + "  " + row.detail)
            }
        }
        let counts = LockfileCoverage.Verdict.allCases.compactMap { verdict -> String? in
            let count = report.count(verdict)
            return count > 0 ? "\(count) \(verdict.rawValue)" : nil
        }
        lines.append("  " + counts.joined(separator: ", "))
        return lines.joined(separator: "\n")
    }
}

/// `npm-mirror pin`: keep (and fetch) the versions lockfiles name.
struct Pin: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Pin the versions lockfiles name: kept whatever OLD_PACKAGE_VERSIONS_LIMIT says, and fetched when missing.",
        discussion: """
            Writes one pin set per lockfile into UPDATE_SEQ_DIR/pins (pinning the same file again replaces its set). The \
            producer (changes-producer, or npm-mirror run) sends every package with a newly pinned version to the \
            consumers within 10 s, as a change marked "source":"pin"; the consumer fetches, verifies and records the \
            pinned versions like any other and never prunes them while they are pinned. Lockfiles in PIN_DIRECTORY are \
            pinned the same way by the producer (sets named dir-<file>). --list shows the sets; --remove ID|FILE removes \
            one, and the next change of each package prunes what is no longer kept. Exit status: 0 on success, 2 when a \
            lockfile or the pin folder cannot be read or written.
            """
    )

    @OptionGroup var options: ConfigurationOptions

    @Flag(help: "List the pin sets.")
    var list = false

    @Option(help: ArgumentHelp("Remove a pin set, by id or by the lockfile it was made from.", valueName: "id-or-file"))
    var remove: String?

    @Argument(help: ArgumentHelp("Lockfiles to pin.", valueName: "file"))
    var files: [String] = []

    func validate() throws {
        let modes = (list ? 1 : 0) + (remove != nil ? 1 : 0) + (files.isEmpty ? 0 : 1)
        guard modes == 1 else { throw ValidationError("give lockfiles to pin, or --list, or --remove ID|FILE (one of them)") }
    }

    func run() throws {
        do {
            let configuration = try options.load()
            let folder = PinFolder(path: configuration.storage.pinSetDirectory)
            if list {
                let (sets, problems) = folder.list()
                if sets.isEmpty { print("No pin sets in \(folder.path).") }
                for set in sets {
                    print("\(set.id)  \(set.packages.count) packages, \(set.versionCount) versions, pinned \(set.pinnedAt) from \(set.source)")
                }
                for problem in problems { print("unreadable: \(problem)") }
                return
            }
            if let remove {
                let id = PinSet.isValidID(remove) && FileManager.default.fileExists(atPath: folder.path + "/" + remove + ".json")
                    ? remove : PinSet.id(forLockfileAt: remove)
                guard try folder.remove(id: id) else {
                    FileHandle.standardError.write(Data("npm-mirror pin: no pin set \(id) in \(folder.path)\n".utf8))
                    throw ExitCode(2)
                }
                print("Removed pin set \(id); the next change of each of its packages prunes what is no longer kept.")
                return
            }
            for file in files {
                let set = try PinSet(lockfileAt: file, pinnedAt: Date().formatted(.iso8601))
                try folder.write(set)
                print("Pinned \(set.versionCount) versions of \(set.packages.count) packages from \(file) as \(set.id); the producer sends them to the consumers.")
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            FileHandle.standardError.write(Data("npm-mirror pin: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }
}
