import Foundation
import HTTPTypes
import MirrorStore
import NIOCore
import NIOHTTP1
import NIOHTTPTypesHTTP1
import NPMNames
import Synchronization

/// What the fast path decides, synchronously, for one request head: an answer it can give from
/// ``FastAnswers`` or the store, or nil (the request goes to Hummingbird's responder). Shared by
/// every connection's ``FastPathHandler``.
struct FastPath: Sendable {
    /// An answer ready to write.
    struct Prepared {
        var route: String
        var status: HTTPResponseStatus
        var headers: HTTPHeaders
        /// Nil: none (a 304, a `HEAD`, an empty file).
        var body: FastAnswers.Body?
        var start: ContinuousClock.Instant
        /// Drops the remembered answer this came from (when its file turns out to be gone).
        var forget: (@Sendable () -> Void)? = nil
    }

    /// A `FileRegion` slice: large files are written in pieces of this size, so each completed piece
    /// is progress the write-stall timeout sees.
    static let sliceBytes = 1 << 20

    let core: RegistryServerCore
    let answers: FastAnswers
    let dates: HTTPDateCache
    var metrics: ServeMetrics { core.metrics }

    /// What a connection's request headers decided last time: clients send the same `Accept`,
    /// `Accept-Encoding`, `Host` and `X-Forwarded-Proto` on every request of a connection, so they
    /// are read once per connection, not once per request.
    struct HeaderMemo {
        var fields: [String?] = []
        var abbreviated = false
        var gzip = false
        var base: String?
    }

    func prepare(_ head: HTTPRequestHead, memo: inout HeaderMemo) -> Prepared? {
        guard head.method == .GET || head.method == .HEAD else { return nil }
        let start = ContinuousClock.now
        let (rawPath, _) = QueryString.split(head.uri)
        guard let route = try? RegistryPaths.parse(path: String(rawPath)) else { return nil }
        let isHead = head.method == .HEAD
        switch route {
        case .packument(let name): return packument(name, head: head, isHead: isHead, start: start, memo: &memo)
        case .tarball(let name, let version): return tarball(name, version, head: head, isHead: isHead, start: start)
        default: return nil
        }
    }

    /// A header's value as HTTP types read it: the values of every field of that name, joined.
    static func value(_ headers: HTTPHeaders, _ name: String) -> String? {
        let values = headers[name]
        return values.isEmpty ? nil : values.joined(separator: ", ")
    }

    private func packument(_ name: String, head: HTTPRequestHead, isHead: Bool, start: ContinuousClock.Instant, memo: inout HeaderMemo) -> Prepared? {
        let fields = ["host", "x-forwarded-proto", "accept", "accept-encoding"].map { Self.value(head.headers, $0) }
        if fields != memo.fields {
            memo.fields = fields
            memo.base = try? core.tarballBase(host: fields[0], forwardedProto: fields[1]).get()
            memo.abbreviated = Negotiation.wantsAbbreviated(accept: fields[2])
            memo.gzip = Negotiation.acceptsGzip(acceptEncoding: fields[3])
        }
        guard let base = memo.base else { return nil }
        let key = FastAnswers.Key(name: name, base: base, abbreviated: memo.abbreviated, gzip: memo.gzip)
        guard let answer = answers.answer(key) else { return nil }
        if Self.notModified(head.headers, etag: answer.etag, modified: answer.modified) {
            return Prepared(route: "packument", status: .notModified, headers: answer.notModifiedHeaders, body: nil, start: start)
        }
        return Prepared(
            route: "packument", status: .ok, headers: answer.headers, body: isHead ? nil : answer.body, start: start,
            forget: { [answers] in answers.forget(key) }
        )
    }

    private func tarball(_ name: String, _ version: String, head: HTTPRequestHead, isHead: Bool, start: ContinuousClock.Instant) -> Prepared? {
        // A metadata-only mirror's 404 and the cooldown's checks are the slow path's.
        let configuration = core.configuration
        guard configuration.fetchTarballs, configuration.minimumAge == nil,
            let fileName = try? core.store.tarballFileName(name: name, version: version)
        else { return nil }
        let path = core.store.absolutePackageDirectory(for: name) + "/" + fileName
        guard let status = fileStatus(path) else { return nil }
        let etag = RegistryServerCore.tarballETag(status)
        var headers = HTTPHeaders(core.validators(etag: etag, modified: status.modified))
        if let server = core.serverName { headers.add(name: "Server", value: server) }
        if Self.notModified(head.headers, etag: etag, modified: status.modified) {
            return Prepared(route: "tarball", status: .notModified, headers: headers, body: nil, start: start)
        }
        headers.add(name: "Content-Type", value: "application/octet-stream")
        headers.add(name: "Content-Length", value: String(status.size))
        let body: FastAnswers.Body? = isHead || status.size == 0 ? nil : .file(path: path, size: status.size)
        return Prepared(route: "tarball", status: .ok, headers: headers, body: body, start: start)
    }

    /// ``Negotiation/isNotModified(ifNoneMatch:ifModifiedSince:etag:modified:)`` over NIO's headers.
    static func notModified(_ headers: HTTPHeaders, etag: String, modified: Int) -> Bool {
        Negotiation.isNotModified(ifNoneMatch: value(headers, "if-none-match"), ifModifiedSince: value(headers, "if-modified-since"), etag: etag, modified: modified)
    }
}

/// `Date` for answers: formatted at most once a second.
final class HTTPDateCache: Sendable {
    private let cached = Mutex<(second: Int, text: String)>((0, ""))

    func now() -> String {
        let second = Int(Date().timeIntervalSince1970)
        return cached.withLock { cached in
            if cached.second != second { cached = (second, Negotiation.httpDate(second)) }
            return cached.text
        }
    }
}
