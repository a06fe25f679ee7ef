import HTTPTypes
import Hummingbird
import NIOCore

/// Thrown inside a response body writer to make the server drop the connection.
struct SimulatedConnectionDrop: Error {}

/// Applies body-level faults to a successful response.
enum FaultResponses {
    static func apply(_ fault: FaultRule, to response: PlainResponse) -> Response {
        var response = response
        switch fault.kind {
        case .closeMidBody:
            let half = response.body.getSlice(at: response.body.readerIndex, length: response.body.readableBytes / 2) ?? ByteBuffer()
            var headers = HTTPFields()
            headers[.contentType] = response.contentType
            // No Content-Length: the body is chunked, and the final chunk never comes.
            return Response(status: .ok, headers: headers, body: ResponseBody(contentLength: nil) { writer in
                try await writer.write(half)
                throw SimulatedConnectionDrop()
            })
        case .truncatedBody:
            let full = response.body.readableBytes
            let half = response.body.getSlice(at: response.body.readerIndex, length: full / 2) ?? ByteBuffer()
            var headers = HTTPFields()
            headers[.contentType] = response.contentType
            headers[.contentLength] = String(full)
            return Response(status: .ok, headers: headers, body: ResponseBody(contentLength: nil) { writer in
                try await writer.write(half)
                throw SimulatedConnectionDrop()
            })
        case .corruptTarball:
            response.body = Self.corrupted(response.body)
        case .malformedJSON:
            let keep = max(1, response.body.readableBytes * 3 / 5)
            var cut = response.body.getSlice(at: response.body.readerIndex, length: min(keep, response.body.readableBytes)) ?? ByteBuffer()
            cut.writeString(",\"")
            response.body = cut
        case .hugeBody:
            response.body = Self.padded(response.body, to: fault.bodyBytes ?? 32 << 20, json: response.isJSON)
        case .slowResponse:
            if let rate = fault.bytesPerSecond, rate > 0 {
                return Self.trickled(response, bytesPerSecond: rate)
            }
        default:
            break
        }
        return response.makeResponse()
    }

    /// Same length, different bytes: a few bytes in the middle are inverted.
    static func corrupted(_ body: ByteBuffer) -> ByteBuffer {
        var copy = ByteBuffer(bytes: body.readableBytesView)
        guard copy.readableBytes > 0 else { return copy }
        let middle = copy.readableBytes / 2
        for offset in stride(from: max(0, middle - 8), to: min(copy.readableBytes, middle + 8), by: 1) {
            let byte = copy.getInteger(at: offset, as: UInt8.self) ?? 0
            copy.setInteger(byte ^ 0xFF, at: offset)
        }
        return copy
    }

    static func padded(_ body: ByteBuffer, to size: Int, json: Bool) -> ByteBuffer {
        let padding = max(0, size - body.readableBytes)
        var out = ByteBufferAllocator().buffer(capacity: body.readableBytes + padding)
        if json, body.readableBytes > 0 {
            // Whitespace after the first byte keeps the JSON valid.
            out.writeBytes(body.readableBytesView.prefix(1))
            out.writeRepeatingByte(UInt8(ascii: " "), count: padding)
            out.writeBytes(body.readableBytesView.dropFirst())
        } else {
            out.writeImmutableBuffer(body)
            out.writeRepeatingByte(0, count: padding)
        }
        return out
    }

    static func trickled(_ response: PlainResponse, bytesPerSecond: Int) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = response.contentType
        let body = response.body
        let chunk = max(1, bytesPerSecond / 10)
        return Response(status: response.status, headers: headers, body: ResponseBody(contentLength: body.readableBytes) { writer in
            var remaining = body
            while let slice = remaining.readSlice(length: min(chunk, remaining.readableBytes)), slice.readableBytes > 0 {
                try await writer.write(slice)
                try await Task.sleep(for: .milliseconds(100))
            }
            try await writer.finish(nil)
        })
    }
}
