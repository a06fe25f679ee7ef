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
/// Hummingbird's connection state sees only the requests handed on, so this handler also keeps:
/// - the idle timeout: a connection with no answer being written or awaited that has sent nothing
///   for `idleTimeout` is closed (a request whose head came and whose end does not is not "busy");
/// - backpressure: while a fast answer is being written nothing more is read from the connection,
///   so a client that pipelines requests and reads nothing holds one open file, not thousands;
/// - graceful shutdown and half-close: the quiesce and input-closed events wait until the fast
///   answer in flight is written, then go on to Hummingbird, which closes the idle connection.
final class FastPathHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private enum State {
        case idle
        /// A request the fast path answers once its end arrives (its head kept, to hand it on after
        /// all if its file is gone by then).
        case fast(FastPath.Prepared, head: HTTPRequestHead)
        /// A request handed on, until its end.
        case forwarding
        /// A `Connection: close` answer was given: nothing more is read or answered.
        case closing
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
    /// A `read` held back while a fast answer is written.
    private var readPending = false
    /// Events held back until the fast answer in flight is written.
    private var heldEvents: [Any] = []
    private var headerMemo = FastPath.HeaderMemo()

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
        switch (part, state) {
        case (_, .closing):
            return
        case (.head(let head), .idle) where handedOn == 0:
            if let prepared = fastPath.prepare(head, memo: &headerMemo) {
                state = .fast(prepared, head: head)
                return
            }
            forward(context: context, data)
        case (.head, _):
            forward(context: context, data)
        case (.body, .fast):
            return
        case (.body, _):
            context.fireChannelRead(data)
        case (.end, .fast(let prepared, let head)):
            state = .idle
            respond(context: context, prepared, head: head)
        case (.end, _):
            state = .idle
            context.fireChannelRead(data)
        }
    }

    private func forward(context: ChannelHandlerContext, _ data: NIOAny) {
        state = .forwarding
        handedOn += 1
        context.fireChannelRead(data)
    }

    /// Hands a request the fast path took on after all (its file was gone when it was opened).
    private func handOn(context: ChannelHandlerContext, _ head: HTTPRequestHead) {
        handedOn += 1
        context.fireChannelRead(wrapInboundOut(.head(head)))
        context.fireChannelRead(wrapInboundOut(.end(nil)))
    }

    func read(context: ChannelHandlerContext) {
        if case .closing = state { return }
        if writing > 0 {
            readPending = true
            return
        }
        context.read()
    }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        // Graceful shutdown (quiesce) and a client's half-close: not before the fast answer in
        // flight, or the one whose request is being read, is written.
        let fastRequest = { if case .fast = self.state { true } else { false } }()
        if writing > 0 || fastRequest, event is ChannelShouldQuiesceEvent || (event as? ChannelEvent) == .inputClosed {
            heldEvents.append(event)
            return
        }
        context.fireUserInboundEventTriggered(event)
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
    private func respond(context: ChannelHandlerContext, _ prepared: FastPath.Prepared, head request: HTTPRequestHead) {
        let keepAlive = request.isKeepAlive
        var file: NIOFileHandle?
        if case .file(let path, _) = prepared.body {
            do {
                file = try NIOFileHandle(_deprecatedPath: path)
            } catch {
                // Gone since it was found (another process's rotation of derived files, a tarball
                // pruned): the slow path looks again.
                prepared.forget?()
                handOn(context: context, request)
                releaseHeldEvents(context: context)
                return
            }
        }
        var headers = prepared.headers
        headers.replaceOrAdd(name: "date", value: fastPath.dates.now())
        if !keepAlive {
            headers.replaceOrAdd(name: "connection", value: "close")
            state = .closing
        }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: prepared.status, headers: headers))), promise: nil)
        switch prepared.body {
        case nil:
            break
        case .memory(let buffer):
            context.write(wrapOutboundOut(.body(.byteBuffer(buffer))), promise: nil)
        case .file(_, let size):
            if let file {
                var offset = 0
                while offset < size {
                    let end = min(size, offset + FastPath.sliceBytes)
                    context.write(wrapOutboundOut(.body(.fileRegion(FileRegion(fileHandle: file, readerIndex: offset, endIndex: end)))), promise: nil)
                    offset = end
                }
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
            if !keepAlive {
                context.close(promise: nil)
                return
            }
            handler.releaseHeldEvents(context: context)
            if handler.readPending, handler.writing == 0 {
                handler.readPending = false
                context.read()
            }
        }
        fastPath.metrics.request(route: prepared.route, status: Int(prepared.status.code), bytes: prepared.body?.size ?? 0, since: prepared.start, fastPath: true)
    }

    /// Passes on the quiesce and input-closed events held while a fast answer was written.
    private func releaseHeldEvents(context: ChannelHandlerContext) {
        guard writing == 0, !heldEvents.isEmpty else { return }
        let events = heldEvents
        heldEvents = []
        for event in events { context.fireUserInboundEventTriggered(event) }
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
            // Busy: an answer being written, or one awaited from Hummingbird for a request read to
            // its end. A request whose end does not come is not busy: it is idle like any other.
            let reading = { if case .forwarding = handler.state { true } else { false } }()
            let busy = handler.writing > 0 || (handler.handedOn > 0 && !reading)
            if !busy && quiet >= timeout {
                context.close(promise: nil)
            } else {
                handler.scheduleIdleCheck(context: context, in: busy ? timeout : timeout - quiet)
            }
        }
    }
}
