import ArgumentParser
import Foundation
import MirrorConfig
import MirrorExport
import MirrorRecords
import MirrorRuntime
import MirrorSignatures
import MirrorStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `npm-mirror export`: the mirror as a dataset, or `--check` of one received.
struct Export: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Export the mirror as tables (SQLite, CSV or Parquet) with a manifest, or check a received export.",
        discussion: """
            Reads only the store (REMOTE_PACKAGE_DIR) and the records (COUCHDB_URL, or DBDATA_DIR's SQLite file), \
            page by page, while consumers may keep writing; every package's rows come from one stored packument \
            revision, and manifest.json names the seqs they are as of, the row counts, the SHA-256 of every file \
            and the command. Tables: packages, versions, dependencies, maintainers, changes (docs/export.md). \
            Maintainers' addresses are written as SHA-256 unless --emails plain. Exit status: 0 when the export \
            was written (or --check found it intact), 1 when --check found a problem, 2 when nothing could be \
            exported or checked.
            """
    )

    @OptionGroup var options: ConfigurationOptions

    @Option(help: "sqlite (one database), csv or parquet (one file per table).")
    var format: String = "sqlite"

    @Option(help: ArgumentHelp("A new or empty folder to write the export into.", valueName: "dir"))
    var out: String?

    @Option(help: "hashed (SHA-256 of the address, the default) or plain.")
    var emails: String = "hashed"

    @Flag(help: "CSV: write <table>.csv.gz.")
    var gzip = false

    @Option(help: ArgumentHelp("Check the export in this folder against its manifest instead.", valueName: "dir"))
    var check: String?

    @Flag(help: "Write the summary (or the check's findings) as JSON to standard output.")
    var json = false

    @Flag(help: "Print the tables' columns as Markdown (docs/export.md) and exit.")
    var schemaMarkdown = false

    func validate() throws {
        guard ExportFormat(rawValue: format) != nil else { throw ValidationError("--format takes sqlite, csv or parquet, got '\(format)'") }
        guard ExportEmails(rawValue: emails) != nil else { throw ValidationError("--emails takes hashed or plain, got '\(emails)'") }
        if check == nil && out == nil && !schemaMarkdown { throw ValidationError("give --out DIR to export, or --check DIR to check an export") }
        if gzip && format != "csv" { throw ValidationError("--gzip is for --format csv") }
    }

    func run() async throws {
        if schemaMarkdown {
            print(ExportTable.markdown)
            return
        }
        if let check {
            try runCheck(check)
            return
        }
        do {
            let configuration = try options.load()
            let logger = MirrorLogging.bootstrap(label: "npm-mirror", level: "error")
            let root = configuration.storage.remotePackageDirectory
            var isDirectory: ObjCBool = false
            guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
                throw ExportError.output("REMOTE_PACKAGE_DIR \(root) is not a folder: there is no store to export")
            }
            let records = configuration.records
            guard records.usesCouchDB || FileManager.default.fileExists(atPath: records.embeddedDatabasePath) else {
                throw ExportError.output("no records: COUCHDB_URL is not set and \(records.embeddedDatabasePath) does not exist")
            }
            let (recordStore, _) = try records.openStore(logger: logger)
            let store = try PackageStore(root: root, scratch: configuration.storage.localPackageDirectory, shardLength: configuration.storage.subdirectoryHashLength)
            var exportOptions = MirrorExport.Options(directory: URL(fileURLWithPath: out ?? "").standardizedFileURL.path)
            exportOptions.format = ExportFormat(rawValue: format) ?? .sqlite
            exportOptions.emails = ExportEmails(rawValue: emails) ?? .hashed
            exportOptions.gzip = gzip
            exportOptions.command = CommandLine.arguments
            exportOptions.trustedKeyIDs = (try? configuration.trustedSigningKeys().keys.map(\.keyid)) ?? []
            let export = MirrorExport(records: recordStore, store: store, options: exportOptions, logger: logger)
            let manifest = try await Self.run(export, showingProgress: isatty(STDERR_FILENO) == 1)
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
                print(String(decoding: try encoder.encode(manifest), as: UTF8.self))
            } else {
                print("export          \(exportOptions.directory) (\(manifest.format.rawValue)\(manifest.gzip ? ", gzip" : ""))")
                for table in manifest.tables { print("  \(table.name.rawValue.padding(toLength: 14, withPad: " ", startingAt: 0)) \(table.rows) rows") }
                if let seqs = manifest.packageSeqs { print("package rows as of seqs \(seqs.first)…\(seqs.last)") }
                if let seqs = manifest.changeSeqs { print("changes         seqs \(seqs.first)…\(seqs.last)") }
                if manifest.packagesWithoutPackument + manifest.unreadablePackuments > 0 {
                    print("without packument \(manifest.packagesWithoutPackument + manifest.unreadablePackuments) packages (only their packages row)")
                }
                print("manifest        \(exportOptions.directory)/\(ExportManifest.fileName) (check with: npm-mirror export --check \(exportOptions.directory))")
            }
        } catch let exit as ExitCode {
            throw exit
        } catch {
            FileHandle.standardError.write(Data("npm-mirror export: \(error)\n".utf8))
            throw ExitCode(2)
        }
    }

    private func runCheck(_ directory: String) throws {
        let problems: [String]
        do {
            problems = try ExportManifest.check(directory: directory)
        } catch {
            FileHandle.standardError.write(Data("npm-mirror export --check: \(error)\n".utf8))
            throw ExitCode(2)
        }
        if json {
            let object: [String: Any] = ["intact": problems.isEmpty, "problems": problems]
            print(String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self))
        } else if problems.isEmpty {
            print("intact: every file matches its size and SHA-256, every table its row count (\(directory)/\(ExportManifest.fileName))")
        } else {
            problems.forEach { print($0) }
        }
        if !problems.isEmpty { throw ExitCode(1) }
    }

    /// Runs the export with a progress line on standard error when asked (a terminal).
    static func run(_ export: MirrorExport, showingProgress: Bool) async throws -> ExportManifest {
        let progress = ExportProgress()
        guard showingProgress else { return try await export.run(progress: progress) }
        let reporter = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .milliseconds(250))
                let snapshot = progress.snapshot
                FileHandle.standardError.write(Data("\r\u{1B}[Kexporting: \(snapshot.changes) changes, \(snapshot.packages) packages, \(snapshot.rows) rows".utf8))
            }
        }
        defer {
            reporter.cancel()
            FileHandle.standardError.write(Data("\r\u{1B}[K".utf8))
        }
        return try await export.run(progress: progress)
    }
}
