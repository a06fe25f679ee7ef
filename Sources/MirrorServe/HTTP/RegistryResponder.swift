import MirrorRuntime
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MirrorRecords
import MirrorStore
import NIOCore
import MirrorWeb
import NPMNames

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An answer before it becomes a Hummingbird `Response`: status, headers, and a body either in
/// memory or streamed from a file.
struct RegistryAnswer: Sendable {
    enum Body: Sendable {
        case bytes([UInt8])
        /// Bytes already in a buffer that many answers share (a cached page): written, not copied.
        case buffer(ByteBuffer)
        /// A file of known size, streamed in 64 KiB chunks.
        case file(path: String, size: Int)
        case empty
    }

    var status: HTTPResponse.Status
    var headers: HTTPFields = [:]
    var body: Body = .empty

    static func json(_ status: HTTPResponse.Status, _ value: JSONValue) -> Self {
        var answer = RegistryAnswer(status: status, body: .bytes(value.serializedBytes))
        answer.headers[.contentType] = "application/json"
        return answer
    }

    /// A JSON body already serialised (a stored or precomputed document), cacheable for
    /// `RegistryServerCore.cacheControl`.
    static func cacheableJSON(_ bytes: [UInt8]) -> Self {
        var answer = RegistryAnswer(status: .ok, body: .bytes(bytes))
        answer.headers[.contentType] = "application/json"
        answer.headers[.cacheControl] = RegistryServerCore.cacheControl
        return answer
    }

    /// A web page: HTML under a `Content-Security-Policy` that allows no script, not cached.
    static func html(_ status: HTTPResponse.Status, _ text: String) -> Self {
        html(status, ByteBuffer(string: text))
    }

    /// A web page already rendered into a buffer (shared by every answer that sends it).
    static func html(_ status: HTTPResponse.Status, _ page: ByteBuffer) -> Self {
        var answer = RegistryAnswer(status: status, body: .buffer(page))
        answer.headers[.contentType] = "text/html; charset=utf-8"
        answer.headers[.contentSecurityPolicy] = WebPages.contentSecurityPolicy
        answer.headers[.xContentTypeOptions] = "nosniff"
        answer.headers[.cacheControl] = "no-cache"
        return answer
    }

    static func error(_ status: HTTPResponse.Status, _ code: String, reason: String? = nil) -> Self {
        var object: [String: JSONValue] = ["error": .string(code)]
        if let reason { object["reason"] = .string(reason) }
        return .json(status, .object(object))
    }

    static func rejection(_ rejection: RouteRejection) -> Self {
        .error(rejection.status, rejection.code, reason: rejection.reason)
    }

    var bodyLength: Int {
        switch body {
        case .bytes(let bytes): bytes.count
        case .buffer(let buffer): buffer.readableBytes
        case .file(_, let size): size
        case .empty: 0
        }
    }
}

/// The request context of the registry: Hummingbird's core context, and the connection's channel,
/// which the file streaming paces its writes by.
struct RegistryRequestContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: any Channel

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Answers the registry's requests (see `RegistryServer` for the endpoints).
struct RegistryResponder: HTTPResponder {
    typealias Context = RegistryRequestContext

    let server: RegistryServerCore

    func respond(to request: Request, context: Context) async throws -> Response {
        let start = ContinuousClock.now
        let target = request.head.path ?? "/"
        let (rawPath, query) = QueryString.split(target)
        let path = String(rawPath)
        let isHead = request.method == .head
        var routeLabel = "rejected"
        var answer: RegistryAnswer
        do throws(RouteRejection) {
            let route = try RegistryPaths.parse(path: path)
            routeLabel = route.label
            answer = await server.answer(route, request: request, query: query.items)
        } catch let rejection {
            if rejection == .notFound { routeLabel = "not_found" }
            answer = .rejection(rejection)
            if request.method != .get && request.method != .head && rejection == .notFound {
                answer = Self.readOnly(request.method)
            }
        }
        server.metrics.request(route: routeLabel, status: Int(answer.status.code), bytes: isHead ? 0 : answer.bodyLength, since: start)
        return Self.response(answer, head: isHead, channel: context.channel)
    }

    static func readOnly(_ method: HTTPRequest.Method, allow: String = "GET, HEAD") -> RegistryAnswer {
        var answer = RegistryAnswer.error(.methodNotAllowed, "method_not_allowed", reason: "this npm mirror is read-only: \(method.rawValue) is not supported here (allowed: \(allow))")
        answer.headers[.allow] = allow
        return answer
    }

    static func response(_ answer: RegistryAnswer, head: Bool, channel: any Channel) -> Response {
        var headers = answer.headers
        switch answer.body {
        case .empty:
            return Response(status: answer.status, headers: headers, body: ResponseBody())
        case .bytes(let bytes):
            if head {
                headers[.contentLength] = String(bytes.count)
                return Response(status: answer.status, headers: headers, body: ResponseBody())
            }
            return Response(status: answer.status, headers: headers, body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
        case .buffer(let buffer):
            if head {
                headers[.contentLength] = String(buffer.readableBytes)
                return Response(status: answer.status, headers: headers, body: ResponseBody())
            }
            return Response(status: answer.status, headers: headers, body: ResponseBody(byteBuffer: buffer))
        case .file(let path, let size):
            headers[.contentLength] = String(size)
            if head || size == 0 { return Response(status: answer.status, headers: headers, body: ResponseBody()) }
            return Response(status: answer.status, headers: headers, body: fileBody(path: path, size: size, channel: channel))
        }
    }

    /// Streams a file: memory per response is a few chunks, whatever the file's size. A chunk is
    /// read only once the previous one reached the channel: `write` hands a chunk to the event loop
    /// and returns at once while the connection counts as writable, so without the round trip to
    /// the event loop (which runs after the handed-over writes, in order) a busy loop would let
    /// every connection queue megabytes before the channel turns unwritable and `write` waits.
    /// Files under the store are never rewritten in place (derived files are content-keyed,
    /// tarballs are the registry's bytes), so the size found before is the size read; a file
    /// removed meanwhile ends the response early (a short body, never wrong bytes).
    static func fileBody(path: String, size: Int, channel: any Channel) -> ResponseBody {
        ResponseBody(contentLength: size) { writer in
            let file = try await BlockingWork.run { try ReadOnlyFile(path: path) }
            var offset = 0
            while offset < size {
                let (start, count) = (offset, min(Self.chunkSize, size - offset))
                let chunk = try await BlockingWork.run { try file.read(at: start, count: count) }
                offset += chunk.readableBytes
                try await writer.write(chunk)
                try await channel.eventLoop.submit {}.get()
            }
            try await writer.finish(nil)
        }
    }

    static let chunkSize = 64 * 1024
}

/// An open file read with `pread` (no shared offset, so reads need no lock); closed when released.
final class ReadOnlyFile: Sendable {
    let fd: Int32
    let path: String

    init(path: String) throws {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw ServeError.unreadableFile("cannot open \(path): errno \(errno)") }
        self.fd = fd
        self.path = path
    }

    /// Up to `count` bytes at `offset`; throws at the end of the file (it is shorter than announced).
    func read(at offset: Int, count: Int) throws -> ByteBuffer {
        var buffer = ByteBufferAllocator().buffer(capacity: count)
        let read = buffer.writeWithUnsafeMutableBytes(minimumWritableBytes: count) { bytes in
            var result: Int
            repeat { result = pread(fd, bytes.baseAddress, count, off_t(offset)) } while result < 0 && errno == EINTR
            return max(result, 0)
        }
        guard read > 0 else { throw ServeError.unreadableFile("\(path) ended before its announced size") }
        return buffer
    }

    deinit { close(fd) }
}

extension HTTPField.Name {
    static let xForwardedProto = HTTPField.Name("X-Forwarded-Proto")!
}
