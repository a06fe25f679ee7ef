import MirrorRuntime

/// A failed request to the npm registry or its replicate service.
///
/// ``code`` is bounded (usable as a metric label); ``isRetriable`` says whether waiting and asking
/// again can help; ``retryAfter`` carries the server's `Retry-After`, when it sent one.
public struct RegistryError: Error, CustomStringConvertible, Sendable {
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        public let description: String
        /// 429 Too Many Requests.
        public static let rateLimited = Code(description: "rate_limited")
        /// A 5xx answer.
        public static let serverError = Code(description: "server_error")
        /// A 4xx answer other than 404 and 429.
        public static let clientError = Code(description: "client_error")
        /// 404.
        public static let notFound = Code(description: "not_found")
        /// The body was not the JSON expected.
        public static let malformedJSON = Code(description: "malformed_json")
        /// The body was larger than allowed.
        public static let tooLarge = Code(description: "too_large")
        /// No answer in time.
        public static let timeout = Code(description: "timeout")
        /// The connection failed or broke off mid-body.
        public static let connection = Code(description: "connection")
    }

    public let code: Code
    /// What was asked (method and URL without credentials).
    public let request: String
    public let message: String
    /// The HTTP status, when there was an answer.
    public let status: Int?
    public let retryAfter: Duration?

    public var isRetriable: Bool {
        code != .notFound && code != .clientError && code != .tooLarge
    }

    public init(code: Code, request: String, message: String, status: Int? = nil, retryAfter: Duration? = nil) {
        self.code = code
        self.request = request
        self.message = message
        self.status = status
        self.retryAfter = retryAfter
    }

    public var description: String {
        var text = "registry \(code): \(message) (\(request)"
        if let status { text += ", HTTP \(status)" }
        if let retryAfter { text += ", retry after \(retryAfter)" }
        return text + ")"
    }
}

/// The registry's `Retry-After` is what `retrying` waits for, when it asks for longer than the backoff.
extension RegistryError: RetryAfterCarrying {}
