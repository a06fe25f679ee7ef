import AsyncHTTPClient
import CoreMetrics
import Foundation
import NIOCore
import NIOHTTP1

/// What a request was for: the `target` label of `npm_mirror_http_requests_total`.
public struct RequestTarget: Sendable, Hashable, CustomStringConvertible {
    public let description: String
    public static let replicateRoot = RequestTarget(description: "root")
    public static let changes = RequestTarget(description: "changes")
    public static let allDocs = RequestTarget(description: "all_docs")
    public static let packument = RequestTarget(description: "packument")
    public static let tarball = RequestTarget(description: "tarball")
    public static let keys = RequestTarget(description: "keys")
    public static let attestations = RequestTarget(description: "attestations")
}

/// GET requests to the registry with one set of rules: a deadline, a body size cap, errors mapped to
/// ``RegistryError``, and every answer counted by target and status class.
public struct RegistryHTTP: Sendable {
    public let client: HTTPClient
    public let timeout: Duration
    private let metrics: any MetricsFactory

    public static let userAgent = "npm-mirror/0.1 (+research mirror; Swift)"

    public init(client: HTTPClient, timeout: Duration, metrics: any MetricsFactory) {
        self.client = client
        self.timeout = timeout
        self.metrics = metrics
    }

    /// GETs `url` and returns the body if the status is 2xx, reading at most `maxBytes`.
    public func get(_ url: String, target: RequestTarget, accept: String = "application/json", maxBytes: Int) async throws(RegistryError) -> ByteBuffer {
        let response = try await send(url, target: target, accept: accept)
        do {
            return try await response.body.collect(upTo: maxBytes)
        } catch is NIOTooManyBytesError {
            throw RegistryError(code: .tooLarge, request: "GET \(url)", message: "body larger than \(maxBytes) bytes", status: Int(response.status.code))
        } catch {
            throw Self.transportError(error, url: url)
        }
    }

    /// Sends a GET and checks the status; the caller streams the body (`response.body`).
    public func send(_ url: String, target: RequestTarget, accept: String = "application/json") async throws(RegistryError) -> HTTPClientResponse {
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Accept", value: accept)
        request.headers.add(name: "User-Agent", value: Self.userAgent)
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: TimeAmount(timeout))
        } catch {
            count(target, statusClass: "error")
            throw Self.transportError(error, url: url)
        }
        let status = Int(response.status.code)
        count(target, statusClass: "\(status / 100)xx")
        guard (200..<300).contains(status) else {
            let request = "GET \(url)"
            let retryAfter = response.headers.first(name: "Retry-After").flatMap(Self.parseRetryAfter)
            switch status {
            case 404: throw RegistryError(code: .notFound, request: request, message: "not found", status: status)
            case 429: throw RegistryError(code: .rateLimited, request: request, message: "rate limited", status: status, retryAfter: retryAfter)
            case 500...: throw RegistryError(code: .serverError, request: request, message: "server error", status: status, retryAfter: retryAfter)
            default: throw RegistryError(code: .clientError, request: request, message: "request refused", status: status)
            }
        }
        return response
    }

    private func count(_ target: RequestTarget, statusClass: String) {
        Counter(label: "npm_mirror_http_requests_total", dimensions: [("target", target.description), ("status_class", statusClass)], factory: metrics)
            .increment()
    }

    static func transportError(_ error: any Error, url: String) -> RegistryError {
        let request = "GET \(url)"
        if let error = error as? HTTPClientError {
            switch error {
            case .deadlineExceeded, .readTimeout, .connectTimeout, .writeTimeout:
                return RegistryError(code: .timeout, request: request, message: "no answer in time (\(error))")
            default:
                return RegistryError(code: .connection, request: request, message: "\(error)")
            }
        }
        return RegistryError(code: .connection, request: request, message: "\(error)")
    }

    /// `Retry-After` as seconds (`120`) or as an HTTP date.
    static func parseRetryAfter(_ value: String) -> Duration? {
        let trimmed = value.trimmingCharacters(in: .whitespaces)
        if let seconds = Int64(trimmed), seconds >= 0 { return .seconds(seconds) }
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        guard let date = formatter.date(from: trimmed) else { return nil }
        return .seconds(max(0, Int64(date.timeIntervalSinceNow.rounded(.up))))
    }
}
