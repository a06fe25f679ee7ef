import MirrorJSON

/// One document of `_all_docs`: its id (a package name) and current rev.
public struct AllDocsRow: Sendable, Hashable {
    public var id: String
    public var rev: String

    public init(id: String, rev: String) {
        self.id = id
        self.rev = rev
    }
}

/// One page of `GET {replicate}/registry/_all_docs`, as ``ReplicateClient/allDocs(startAfter:limit:)``
/// asks for it: package documents in id order, after the id the page started after.
public struct AllDocsPage: Sendable, Hashable {
    /// The page's package documents, in the registry's id order. `_design/` rows (the database's own
    /// documents, never packages) are left out and counted in ``designRowsSkipped``; the row of the id
    /// the page started after is left out too.
    public var rows: [AllDocsRow]
    /// `_design/` rows the page held and ``rows`` leaves out.
    public var designRowsSkipped: Int
    /// `total_rows`: every document of the database, design documents included (nil if not sent).
    public var totalRows: Int64?
    /// The id to start the next page after (the page's last row, a `_design/` row included); nil when
    /// the page came back short: this was the last page.
    public var last: String?

    public init(rows: [AllDocsRow], designRowsSkipped: Int, totalRows: Int64?, last: String?) {
        self.rows = rows
        self.designRowsSkipped = designRowsSkipped
        self.totalRows = totalRows
        self.last = last
    }

    /// Parses the answer to `limit` rows asked for from `startkey=startAfter` (`limit + 1` rows when
    /// `startAfter` is set, since the start key is inclusive). The first row is dropped when its id is
    /// `startAfter` (it is not when that document was deleted meanwhile); rows beyond `limit` are
    /// dropped, so a page never holds more than `limit` rows. A body that is not an object with a `rows` array
    /// of `{"id": string, "value": {"rev": string}}` throws: a reconciliation must not take a row it
    /// could not read for a missing document.
    public static func parse(_ body: some Collection<UInt8>, startAfter: String?, limit: Int) throws(PageParseError) -> AllDocsPage {
        let outcome = JSONScanner.withBytes(of: body) { buffer in
            Result { () throws(JSONScanner.Failure) in try AllDocsPageScanner.scan(buffer) }
        }
        var scanned: (rows: [AllDocsRow], totalRows: Int64?)
        switch outcome {
        case .success(let value): scanned = value
        case .failure(let failure): throw PageParseError(message: failure.message)
        }
        var rows = scanned.rows[...]
        if let startAfter, rows.first?.id == startAfter {
            rows = rows.dropFirst()
        }
        rows = rows.prefix(limit)
        let last = rows.count < limit ? nil : rows.last?.id
        let packages = rows.filter { !$0.id.hasPrefix("_design/") }
        return AllDocsPage(rows: packages, designRowsSkipped: rows.count - packages.count, totalRows: scanned.totalRows, last: last)
    }
}
