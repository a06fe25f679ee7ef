import Foundation
import MirrorRuntime
import MirrorRecords
import MirrorSignatures
import MirrorStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Re-checks a whole package store offline: nothing is fetched, only the trusted keys and what the
/// store and the records hold are used.
///
/// - every stored tarball's digest against `dist` of the stored current packument (the strongest
///   `dist.integrity` algorithm, `dist.shasum` when that is all there is); a tarball whose version
///   is not in the packument is unexplained;
/// - every kept version's registry signature against the trusted keys (kept: with a stored tarball,
///   or every version of the packument when tarballs are not fetched); anything but `verified` fails;
/// - every stored attestations response, with ``ProvenanceVerifier`` and the packument's integrity
///   (`invalid` fails); attestations of a version that is not kept are unexplained;
/// - package records whose `stored_versions` name a file that does not exist (when a record store
///   is given);
/// - every file of the store explained: the packument, its revisions, `served/`, attestations of
///   kept versions, tarballs of packument versions, `original-name.txt`; `.tmp-` leftovers are named
///   as such.
///
/// Package folders are checked ``concurrency`` at a time, each on `BlockingWork`'s threads (reads
/// and hashing are blocking), so the hashing uses every core and the cooperative pool stays free.
/// Run it while nothing writes to the store for a clean result: a consumer writing meanwhile can
/// leave a temporary file or a tarball newer than the packument read.
public struct StoreVerification: Sendable {
    public let store: PackageStore
    public let keys: TrustedKeys
    /// `FETCH_TARBALLS`: false means every version of a packument is kept (metadata only).
    public let fetchTarballs: Bool
    public let records: (any RecordStore)?
    /// Where ``records`` are, for the report.
    public let recordsLocation: String?
    /// Package folders checked at once (default: the active processor count).
    public let concurrency: Int
    /// Package records read per page of the record pass (default 1000): memory holds one page.
    public let recordPageSize: Int

    public init(
        store: PackageStore,
        keys: TrustedKeys = .npmBuiltIn,
        fetchTarballs: Bool = true,
        records: (any RecordStore)? = nil,
        recordsLocation: String? = nil,
        concurrency: Int = ProcessInfo.processInfo.activeProcessorCount,
        recordPageSize: Int = 1000
    ) {
        self.store = store
        self.keys = keys
        self.fetchTarballs = fetchTarballs
        self.records = records
        self.recordsLocation = records == nil ? nil : (recordsLocation ?? "records")
        self.concurrency = max(1, concurrency)
        self.recordPageSize = max(1, recordPageSize)
    }

    /// Verifies the store; `progress` can be read meanwhile.
    ///
    /// - Throws: ``StoreError`` when the root cannot be listed (nothing could be verified). Everything
    ///   else that does not hold, unreadable files included, is a failure in the report.
    public func run(progress: VerificationProgress = VerificationProgress()) async throws -> VerificationReport {
        let started = ContinuousClock.now
        var report = VerificationReport(storeRoot: store.root)
        report.fetchTarballs = fetchTarballs
        report.concurrency = concurrency

        let store = self.store
        let listing = try await BlockingWork.run { try store.packageDirectories() }
        progress.setTotal(listing.packageDirectories.count)
        report.packages = listing.packageDirectories.count
        for entry in listing.otherEntries {
            let temporary = PackageStore.isTemporary(entry)
            report.failures.append(
                VerificationFailure(
                    kind: temporary ? .temporaryFile : .unexplainedFile, package: nil, version: nil, path: entry,
                    message: temporary
                        ? "a temporary file or folder (an interrupted write or removal, or one in progress)"
                        : store.shardLength > 0 && !entry.contains("/")
                            ? "not a shard folder of \(store.shardLength) hex digits (SUBDIRECTORY_HASH_LENGTH)"
                            : "neither a shard folder nor a package folder"))
        }

        let check = PackageCheck(
            store: store, signatures: SignatureVerifier(keys: keys), provenance: ProvenanceVerifier(keys: keys),
            fetchTarballs: fetchTarballs, progress: progress)
        await withTaskGroup(of: PackageOutcome.self) { group in
            var pending = listing.packageDirectories.makeIterator()
            var running = 0
            func add(_ outcome: PackageOutcome) {
                report.tarballs += outcome.tarballs
                report.bytesHashed += outcome.bytesHashed
                for (verdict, count) in outcome.signatures { report.signatures[verdict, default: 0] += count }
                for (verdict, count) in outcome.attestations { report.attestations[verdict, default: 0] += count }
                report.failures += outcome.failures
                progress.addPackage()
            }
            while true {
                while running < concurrency, let directory = pending.next() {
                    group.addTask { await BlockingWork.run { check.run(directory: directory) } }
                    running += 1
                }
                guard let outcome = await group.next() else { break }
                running -= 1
                add(outcome)
            }
        }

        if let records {
            report.recordsLocation = recordsLocation
            await checkRecords(records, into: &report)
        }
        report.failures.sort { ($0.path, $0.kind, $0.version ?? "") < ($1.path, $1.kind, $1.version ?? "") }
        report.elapsed = ContinuousClock.now - started
        return report
    }

    /// Package records (live ones) whose `stored_versions` paths do not exist under the root, page by
    /// page through every package record of the store (``RecordStore/packageRecordPages(pageSize:)``).
    private func checkRecords(_ records: any RecordStore, into report: inout VerificationReport) async {
        do {
            for try await page in records.packageRecordPages(pageSize: recordPageSize) {
                let live = page.filter(\.isLivePackage)
                let (paths, failures) = await Self.checkPaths(of: live, under: store.root)
                report.records += live.count
                report.recordPaths += paths
                report.failures += failures
            }
        } catch {
            report.failures.append(
                VerificationFailure(
                    kind: .recordsUnavailable, package: nil, version: nil, path: "",
                    message: "cannot read the package records from \(recordsLocation ?? "the record store") after \(report.records) of them: \(error)"))
        }
    }

    /// Checks one page of records' `stored_versions` paths (on `BlockingWork`: `lstat` blocks).
    private static func checkPaths(of documents: [StoredRecord], under root: String) async -> (paths: Int, failures: [VerificationFailure]) {
        await BlockingWork.run { () -> (Int, [VerificationFailure]) in
            var paths = 0
            var failures: [VerificationFailure] = []
            for record in documents {
                guard let stored = record.body["stored_versions"]?.objectValue else { continue }
                for (version, entry) in stored.sorted(by: { $0.key < $1.key }) {
                    guard let path = entry["path"]?.stringValue, !path.isEmpty else {
                        failures.append(
                            VerificationFailure(
                                kind: .malformedRecord, package: record.id, version: version, path: "",
                                message: "the record's stored_versions entry has no path"))
                        continue
                    }
                    paths += 1
                    if path.hasPrefix("/") || path.split(separator: "/").contains("..") {
                        failures.append(
                            VerificationFailure(
                                kind: .malformedRecord, package: record.id, version: version, path: path,
                                message: "the record's stored_versions path is not relative to the store root"))
                    } else if !Self.entryExists(root + "/" + path) {
                        failures.append(
                            VerificationFailure(
                                kind: .recordMissingFile, package: record.id, version: version, path: path,
                                message: "the package record lists this stored file, and it does not exist"))
                    }
                }
            }
            return (paths, failures)
        }
    }
}

extension StoreVerification {
    /// Whether `path` names an entry (a symbolic link counts, not followed): `lstat` into a buffer, not
    /// a `stat()` value, whose zero initializer a release build looks up in the wrong module.
    static func entryExists(_ path: String) -> Bool {
        withUnsafeTemporaryAllocation(of: stat.self, capacity: 1) { buffer in lstat(path, buffer.baseAddress!) == 0 }
    }
}
