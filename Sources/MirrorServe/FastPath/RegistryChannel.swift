import HTTPTypes
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOHTTPTypes
import NIOHTTPTypesHTTP1

/// The server's HTTP/1.1 connection: Hummingbird's `HTTP1Channel`, with ``FastPathHandler`` placed
/// between NIO's HTTP codec and Hummingbird's conversion to HTTP types (where a `FileRegion` can
/// still be written), and the write-stall handler before both, so it sees every write.
struct RegistryChannel: ServerChildChannel, HTTPChannelHandler {
    typealias Value = NIOAsyncChannel<HTTPRequestPart, HTTPResponsePart>

    let responder: HTTPChannelHandler.Responder
    /// Nil: every request goes to the responder (`SERVE_FAST_PATH=false`).
    let fastPath: FastPath?
    let idleTimeout: TimeAmount
    let writeStallTimeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        channel.eventLoop.makeCompletedFuture {
            let pipeline = channel.pipeline.syncOperations
            try pipeline.configureHTTPServerPipeline(
                withPipeliningAssistance: false,
                withErrorHandling: false,
                withOutboundHeaderValidation: false,
                withEncoderConfiguration: .init(),
                withDecoderLimitConfiguration: .init()
            )
            try pipeline.addHandler(WriteStallHandler(timeout: writeStallTimeout))
            if let fastPath {
                try pipeline.addHandler(FastPathHandler(fastPath: fastPath, idleTimeout: idleTimeout))
            }
            try pipeline.addHandler(HTTP1ToHTTPServerCodec(secure: false))
            // With the fast path, the idle timeout is its handler's: this one sees only what is handed on.
            let idle: Duration? = fastPath == nil ? .nanoseconds(idleTimeout.nanoseconds) : nil
            try pipeline.addHandler(HTTPConnectionStateHandler(idleTimeout: idle, logger: logger))
            return try NIOAsyncChannel(wrappingChannelSynchronously: channel, configuration: .init(isOutboundHalfClosureEnabled: true))
        }
    }

    func handle(value asyncChannel: Value, logger: Logger) async {
        await handleHTTP(asyncChannel: asyncChannel, logger: logger)
    }
}
