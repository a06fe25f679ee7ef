import MirrorJSON
import NIOCore
import NPMNames

/// Reads the replicate service: its root (`update_seq`), the `_changes` feed, by polling, and the
/// list of every document, `_all_docs`, page by page.
///
/// The 2025 API answers 400 to `include_docs`, `feed=continuous|longpoll` and `since=now`, so none
/// are used: "now" is the root's `update_seq`, and following is polling `since=N&limit=L`.
public struct ReplicateClient: Sendable {
    public let baseURL: String
    public let http: RegistryHTTP
    /// Largest page body accepted (a 10000-change page is about 1.5 MB).
    public var maxPageBytes = 64 << 20

    public init(baseURL: String, http: RegistryHTTP) {
        var baseURL = baseURL
        while baseURL.hasSuffix("/") { baseURL.removeLast() }
        self.baseURL = baseURL
        self.http = http
    }

    /// `GET {replicate}/`.
    public func root() async throws(RegistryError) -> ReplicateRoot {
        let url = baseURL + "/"
        let body = try await http.get(url, target: .replicateRoot, maxBytes: 1 << 20)
        // One pass, stepping over the rest of the document: a seq as the feed's (a number, or a
        // string with a numeric prefix).
        let root = body.withUnsafeReadableBytes { bytes -> (updateSeq: Int64?, docCount: Int64?)? in
            var scanner = JSONScanner(bytes)
            var updateSeq: Int64?
            var docCount: Int64?
            do {
                try scanner.readDocument { scanner throws(JSONScanner.Failure) in
                    try scanner.readObject { scanner, key throws(JSONScanner.Failure) in
                        switch key {
                        case "update_seq": updateSeq = try scanner.readSeq()
                        case "doc_count": docCount = try scanner.readSeq()
                        default: try scanner.skipValue()
                        }
                    }
                }
            } catch {
                return nil
            }
            return (updateSeq, docCount)
        }
        guard let root, let updateSeq = root.updateSeq else {
            throw RegistryError(code: .malformedJSON, request: "GET \(url)", message: "no integer update_seq in the root document", status: 200)
        }
        return ReplicateRoot(updateSeq: updateSeq, docCount: root.docCount)
    }

    /// `GET {replicate}/registry/_changes?since=N&limit=L`.
    public func changes(since: Int64, limit: Int) async throws(RegistryError) -> ChangesPage {
        let url = "\(baseURL)/registry/_changes?since=\(since)&limit=\(limit)"
        let body = try await http.get(url, target: .changes, maxBytes: maxPageBytes)
        do {
            return try body.withUnsafeReadableBytes { bytes throws(PageParseError) in try ChangesPage.parse(bytes, since: since) }
        } catch {
            throw RegistryError(code: .malformedJSON, request: "GET \(url)", message: error.message, status: 200)
        }
    }

    /// One page of `GET {replicate}/registry/_all_docs`: up to `limit` documents after `startAfter` (from
    /// the first when nil), in the registry's id order, `_design/` documents left out (see
    /// ``AllDocsPage``). Pass the page's ``AllDocsPage/last`` as the next `startAfter`; nil there means
    /// the end.
    ///
    /// Pages as CouchDB pagers do: `startkey` is the JSON string `startAfter`, percent-encoded
    /// (`startkey=%22%40scope%2Fname%22`), and inclusive, so `limit + 1` rows are asked for and the
    /// repeated first row dropped. Unlike `skip`, this costs the server nothing per page already read,
    /// and a document deleted between two pages moves no other one past the boundary.
    public func allDocs(startAfter: String?, limit: Int) async throws(RegistryError) -> AllDocsPage {
        precondition(limit > 0, "an _all_docs page holds at least one row")
        var url = "\(baseURL)/registry/_all_docs?limit=\(startAfter == nil ? limit : limit + 1)"
        if let startAfter {
            var key: [UInt8] = []
            JSONText.appendString(startAfter, to: &key)
            url += "&startkey=" + URLEncoding.encode(String(decoding: key, as: UTF8.self))
        }
        let body = try await http.get(url, target: .allDocs, maxBytes: maxPageBytes)
        do {
            return try body.withUnsafeReadableBytes { bytes throws(PageParseError) in
                try AllDocsPage.parse(bytes, startAfter: startAfter, limit: limit)
            }
        } catch {
            throw RegistryError(code: .malformedJSON, request: "GET \(url)", message: error.message, status: 200)
        }
    }
}
