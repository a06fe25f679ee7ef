import Foundation
import Logging
import MirrorRecords

extension MirrorConfiguration.Records {
    /// The embedded database's file: `DBDATA_DIR/<DATABASE_NAME>.sqlite`.
    public var embeddedDatabasePath: String {
        (dbdataDirectory as NSString).appendingPathComponent("\(databaseName).sqlite")
    }

    /// Where `npm-mirror serve` keeps its search index of a CouchDB's package records:
    /// `DBDATA_DIR/<DATABASE_NAME>-search.sqlite` (and its progress beside it, `.json`).
    public var searchIndexPath: String {
        (dbdataDirectory as NSString).appendingPathComponent("\(databaseName)-search.sqlite")
    }

    /// Whether records go to CouchDB (`COUCHDB_URL` is set) rather than the embedded database.
    public var usesCouchDB: Bool { couchDBURL != nil }

    /// The record store these settings name — CouchDB at `COUCHDB_URL` (database `DATABASE_NAME`),
    /// otherwise the embedded SQLite file (created when missing) — and where it is, for logs (the
    /// CouchDB URL without credentials, or the file's path). Every process opens its records here.
    ///
    /// - Throws: ``RecordStoreError`` for a `COUCHDB_URL` that cannot be used or a file that cannot
    ///   be opened.
    public func openStore(logger: Logger) throws -> (store: any RecordStore, location: String) {
        if let couchDBURL {
            let couch = try CouchDBConfiguration(url: couchDBURL, database: databaseName, user: couchDBUser, password: couchDBPassword)
            return (CouchDBRecordStore(configuration: couch, logger: logger), "\(couch) database \(databaseName)")
        }
        return (try SQLiteRecordStore(path: embeddedDatabasePath), embeddedDatabasePath)
    }
}
