import MirrorJSON
import NIOCore

/// Reads the replicate service: its root (`update_seq`) and the `_changes` feed, by polling.
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
}
