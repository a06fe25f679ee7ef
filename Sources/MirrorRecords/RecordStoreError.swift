/// An error from a record store, for a whole call or for one document of a batch.
///
/// `code` takes a small, fixed set of values and is safe as a metric label. `description` never
/// contains credentials: the store never hands them to anything that could print them.
public struct RecordStoreError: Error, CustomStringConvertible, Sendable, Hashable {
    /// What went wrong, as a bounded value.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private enum Base: String, Hashable, Sendable {
            case unauthorized
            case forbidden
            case notFound = "not_found"
            case conflict
            case badRequest = "bad_request"
            case illegalDocID = "illegal_doc_id"
            case preconditionFailed = "precondition_failed"
            case requestTooLarge = "request_too_large"
            case serverError = "server_error"
            case unavailable
            case invalidResponse = "invalid_response"
            case invalidConfiguration = "invalid_configuration"
        }

        private let base: Base

        /// 401: no credentials, or wrong ones.
        public static let unauthorized = Code(base: .unauthorized)
        /// 403: the credentials may not do this (also CouchDB's per-document `forbidden`).
        public static let forbidden = Code(base: .forbidden)
        /// 404: the database (or another required resource) does not exist.
        public static let notFound = Code(base: .notFound)
        /// 409: the document was updated by someone else, and retrying did not resolve it.
        public static let conflict = Code(base: .conflict)
        /// 400 and other answers saying the request itself is wrong.
        public static let badRequest = Code(base: .badRequest)
        /// A document id the store cannot take (empty, or starting with `_`).
        public static let illegalDocID = Code(base: .illegalDocID)
        /// 412 other than an existing database on `prepare`.
        public static let preconditionFailed = Code(base: .preconditionFailed)
        /// 413: a document or request over the server's size limit.
        public static let requestTooLarge = Code(base: .requestTooLarge)
        /// 5xx from the server.
        public static let serverError = Code(base: .serverError)
        /// No answer: connection refused or closed, timeouts, 429.
        public static let unavailable = Code(base: .unavailable)
        /// An answer the store could not understand.
        public static let invalidResponse = Code(base: .invalidResponse)
        /// The store's configuration is unusable (bad URL, bad database name).
        public static let invalidConfiguration = Code(base: .invalidConfiguration)

        /// snake_case name, e.g. `not_found`: usable as a metric label value.
        public var description: String { self.base.rawValue }
    }

    /// What went wrong.
    public var code: Code
    /// The HTTP status, when the server answered.
    public var status: Int?
    /// The server's own error name (CouchDB's `error` member, e.g. `conflict`), when it gave one.
    public var serverError: String?
    /// A human-readable detail: the server's `reason`, or the transport failure.
    public var reason: String
    /// What the store was doing, e.g. `POST /db/_bulk_docs` (never contains credentials).
    public var operation: String?
    public var file: String
    public var line: Int

    /// True when trying again later may succeed: `unavailable` and `server_error`.
    public var isRetriable: Bool {
        self.code == .unavailable || self.code == .serverError
    }

    /// Same as `code.description`: a bounded string for metrics labels.
    public var shortDescription: String { self.code.description }

    public var description: String {
        var text = "RecordStoreError.\(self.code)"
        if let status = self.status { text += " (HTTP \(status)" + (self.serverError.map { " \($0)" } ?? "") + ")" }
        if let operation = self.operation { text += " in \(operation)" }
        if !self.reason.isEmpty { text += ": \(self.reason)" }
        return text
    }

    public init(
        code: Code,
        status: Int? = nil,
        serverError: String? = nil,
        reason: String,
        operation: String? = nil,
        file: String = #fileID,
        line: Int = #line
    ) {
        self.code = code
        self.status = status
        self.serverError = serverError
        self.reason = reason
        self.operation = operation
        self.file = file
        self.line = line
    }

    public static func illegalDocID(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .illegalDocID, reason: reason, file: file, line: line)
    }

    public static func badRequest(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .badRequest, reason: reason, file: file, line: line)
    }

    public static func conflict(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .conflict, serverError: "conflict", reason: reason, file: file, line: line)
    }

    public static func unavailable(_ reason: String, operation: String?, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .unavailable, reason: reason, operation: operation, file: file, line: line)
    }

    public static func invalidResponse(_ reason: String, operation: String?, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .invalidResponse, reason: reason, operation: operation, file: file, line: line)
    }

    public static func invalidConfiguration(_ reason: String, file: String = #fileID, line: Int = #line) -> Self {
        Self(code: .invalidConfiguration, reason: reason, file: file, line: line)
    }

    /// Two errors are equal when they say the same thing, wherever they were made.
    public static func == (lhs: Self, rhs: Self) -> Bool {
        lhs.code == rhs.code && lhs.status == rhs.status && lhs.serverError == rhs.serverError
            && lhs.reason == rhs.reason && lhs.operation == rhs.operation
    }

    public func hash(into hasher: inout Hasher) {
        hasher.combine(self.code)
        hasher.combine(self.status)
        hasher.combine(self.serverError)
        hasher.combine(self.reason)
    }
}
