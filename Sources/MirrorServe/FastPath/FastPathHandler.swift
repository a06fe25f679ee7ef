import HTTPTypes
import MirrorStore
import NIOCore
import NIOHTTP1
import NPMNames

/// The requests that dominate installs, answered on the connection's event loop: packuments (full
/// and abbreviated, gzip or not, `GET` and `HEAD`, `If-None-Match`/`If-Modified-Since` → 304) from
/// ``FastAnswers``, and tarballs by `sendfile` from the store. The head and the body are written
/// in one go; nothing hops to Swift's concurrency pool. Everything else (a packument not yet in
/// ``FastAnswers``, version documents, search, keys, attestations, the web pages, anything that is
/// not a plain `GET`/`HEAD`, errors) is handed on unchanged to Hummingbird's responder, which
/// remembers the packument answers it gives for the next time.
///
/// It sits before Hummingbird's HTTP/1 to HTTP-types codec, so it sees NIO's HTTP parts and can
/// write a `FileRegion`. Order is kept: while a request handed on is unanswered, every later
/// request of the connection is handed on too (HTTP/1.1 answers in order).
///
/// Hummingbird's idle timer sees only the requests handed on, so this handler keeps the idle
/// timeout for the connection: one that has no request in flight and sent nothing for
/// `idleTimeout` is closed.
final class FastPathHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        /// A request the fast path answers once its end arrives.
        case fast(FastPath.Prepared, keepAlive: Bool)
        /// A request handed on, until its end.
        case forwarding
    }

    private let fastPath: FastPath
    private let idleTimeout: TimeAmount?
    private var state = State.idle
    /// Requests handed on whose answer has not been written to its end.
    private var handedOn = 0
    /// Fast answers whose writes have not completed.
    private var writing = 0
    private var lastActivity = NIODeadline.now()
    private var idleCheck: Scheduled<Void>?

    init(fastPath: FastPath, idleTimeout: TimeAmount?) {
        self.fastPath = fastPath
        self.idleTimeout = idleTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        scheduleIdleCheck(context: context, in: idleTimeout)
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        idleCheck = nil
    }

    func channelInactive(context: ChannelHandlerContext) {
        idleCheck?.cancel()
        idleCheck = nil
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        lastActivity = .now()
        let part = unwrapInboundIn(data)
        switch part {
        case .head(let head):
            if handedOn == 0, case .idle = state, let prepared = fastPath.prepare(head) {
                state = .fast(prepared, keepAlive: head.isKeepAlive)
                return
            }
            state = .forwarding
            handedOn += 1
            context.fireChannelRead(data)
        case .body:
            if case .fast = state { return }
            context.fireChannelRead(data)
        case .end:
            if case .fast(let prepared, let keepAlive) = state {
                state = .idle
                respond(context: context, prepared, keepAlive: keepAlive)
                return
            }
            state = .idle
            context.fireChannelRead(data)
        }
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        if case .end = unwrapOutboundIn(data) {
            handedOn = max(0, handedOn - 1)
            lastActivity = .now()
        }
        context.write(data, promise: promise)
    }

    /// Writes a prepared answer: the head, then the body from memory or as `FileRegion` slices of
    /// ``FastPath/sliceBytes`` (each slice's completion is progress the write-stall timeout sees, so a
    /// slow reader of a large file is not cut while it reads), then the end; the file is closed when
    /// the last write completes or fails.
    private func respond(context: ChannelHandlerContext, _ prepared: FastPath.Prepared, keepAlive: Bool) {
        var headers = prepared.headers
        headers.replaceOrAdd(name: "date", value: fastPath.dates.now())
        if !keepAlive { headers.replaceOrAdd(name: "connection", value: "close") }
        let head = HTTPResponseHead(version: .http1_1, status: prepared.status, headers: headers)
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        var file: NIOFileHandle?
        switch prepared.body {
        case .none:
            break
        case .memory(let buffer):
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .file(let path, let size):
            do {
                let handle = try NIOFileHandle(_deprecatedPath: path)
                file = handle
                var offset = 0
                while offset < size {
                    let end = min(size, offset + FastPath.sliceBytes)
                    context.write(wrapOutboundOut(.body(.fileRegion(FileRegion(fileHandle: handle, readerIndex: offset, endIndex: end)))), promise: nil)
                    offset = end
                }
            } catch {
                // Removed since it was found: the connection cannot be answered truthfully any more.
                context.close(promise: nil)
                return
            }
        }
        writing += 1
        let done = context.eventLoop.makePromise(of: Void.self)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: done)
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let opened = file
        done.futureResult.whenComplete { result in
            try? opened?.close()
            let (handler, context) = loopBound.value
            handler.writing -= 1
            handler.lastActivity = .now()
            if case .failure = result { return }
            if !keepAlive { context.close(promise: nil) }
        }
        fastPath.metrics.request(route: prepared.route, status: Int(prepared.status.code), bytes: prepared.bodyBytes, since: prepared.start, fastPath: true)
    }

    private func scheduleIdleCheck(context: ChannelHandlerContext, in delay: TimeAmount?) {
        guard let delay else { return }
        idleCheck?.cancel()
        let loopBound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        idleCheck = context.eventLoop.scheduleTask(in: delay) {
            let (handler, context) = loopBound.value
            handler.idleCheck = nil
            guard let timeout = handler.idleTimeout else { return }
            let quiet = NIODeadline.now() - handler.lastActivity
            let busy = handler.handedOn > 0 || handler.writing > 0 || { if case .idle = handler.state { false } else { true } }()
            if !busy && quiet >= timeout {
                context.close(promise: nil)
            } else {
                handler.scheduleIdleCheck(context: context, in: busy ? timeout : timeout - quiet)
            }
        }
    }
}
