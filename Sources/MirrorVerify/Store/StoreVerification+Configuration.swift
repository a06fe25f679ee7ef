import Foundation
import Logging
import MirrorConfig
import MirrorRecords
import MirrorSignatures
import MirrorStore

extension StoreVerification {
    /// The verification `npm-mirror verify` runs: the store at `REMOTE_PACKAGE_DIR` (shards of
    /// `SUBDIRECTORY_HASH_LENGTH`), the keys of `NPM_SIGNING_KEYS` (the built-in npm keys when unset),
    /// `FETCH_TARBALLS`, and the records of `COUCHDB_URL` or of the embedded SQLite file in `DBDATA_DIR`
    /// when that file exists (it is never created here; without it records are not checked).
    ///
    /// - Throws: ``VerifyError`` `no_store` when the store folder does not exist, `keys` for a keys file
    ///   that cannot be read or is not a keys document, `records` when the configured record store cannot be opened.
    public init(configuration: MirrorConfiguration, concurrency: Int? = nil, logger: Logger) throws {
        let root = configuration.storage.remotePackageDirectory
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: root, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw VerifyError(.noStore, "REMOTE_PACKAGE_DIR \(root) is not a folder: there is no store to verify")
        }
        let keys = try Self.trustedKeys(configuration)
        let store: PackageStore
        do {
            store = try PackageStore(
                root: root, scratch: configuration.storage.localPackageDirectory,
                shardLength: configuration.storage.subdirectoryHashLength)
        } catch {
            throw VerifyError(.noStore, "cannot open the store \(root): \(error)")
        }
        let (records, location) = try Self.recordStore(configuration, logger: logger)
        self.init(
            store: store, keys: keys, fetchTarballs: configuration.consumer.fetchTarballs, records: records,
            recordsLocation: location, concurrency: concurrency ?? ProcessInfo.processInfo.activeProcessorCount)
    }

    /// The keys the mirror trusts (``MirrorConfiguration/trustedSigningKeys()``).
    ///
    /// - Throws: ``VerifyError`` `keys`, naming the file and the problem.
    public static func trustedKeys(_ configuration: MirrorConfiguration) throws -> TrustedKeys {
        do {
            return try configuration.trustedSigningKeys()
        } catch {
            throw VerifyError(.keys, error.description)
        }
    }

    /// CouchDB when `COUCHDB_URL` is set; otherwise the embedded database's file when it exists (as
    /// `npm-mirror serve` opens it, without creating it); otherwise none.
    static func recordStore(_ configuration: MirrorConfiguration, logger: Logger) throws -> ((any RecordStore)?, String?) {
        let records = configuration.records
        guard records.usesCouchDB || FileManager.default.fileExists(atPath: records.embeddedDatabasePath) else { return (nil, nil) }
        do {
            let (store, location) = try records.openStore(logger: logger)
            return (store, location)
        } catch {
            throw VerifyError(.records, "cannot open the record store: \(error)")
        }
    }
}
