import Foundation

/// Where and how `CouchDBRecordStore` reaches CouchDB.
///
/// Credentials come from `user`/`password` when given, else from the URL's userinfo
/// (`http://admin:pw@host:5984`); either way they are removed from `url`, sent only as a Basic
/// `Authorization` header, and never printed (`description` shows `password: ***`).
public struct CouchDBConfiguration: Sendable, CustomStringConvertible {
    /// Retrying a request that got no answer, a 5xx or a 429. Every call is bounded by `maxAttempts`;
    /// a caller that wants to wait longer catches the (retriable) error and calls again.
    public struct Retry: Sendable {
        /// Attempts per HTTP request, first one included. Default 3. At least 1.
        public var maxAttempts: Int
        /// Pause before the second attempt; doubled for each further one, up to `maxBackoff`,
        /// with jitter (50–100 % of the value). Default 250 ms.
        public var initialBackoff: Duration
        /// Longest pause between attempts. Default 5 s.
        public var maxBackoff: Duration

        public init(maxAttempts: Int = 3, initialBackoff: Duration = .milliseconds(250), maxBackoff: Duration = .seconds(5)) {
            self.maxAttempts = max(1, maxAttempts)
            self.initialBackoff = initialBackoff
            self.maxBackoff = maxBackoff
        }

        /// One attempt, no retry.
        public static let none = Retry(maxAttempts: 1)
    }

    /// The server, without credentials, e.g. `http://127.0.0.1:5984`. A path prefix (a proxy) is kept.
    public let url: URL
    /// The database name: lowercase letter first, then `a-z 0-9 _ $ ( ) + - /` (CouchDB's rule).
    public let database: String
    /// User for Basic authentication; `nil` sends no credentials.
    public let user: String?
    /// Password for Basic authentication. Never printed.
    public let password: String?

    /// Deadline for one HTTP request, answer body included. Default 30 s.
    public var requestTimeout: Duration = .seconds(30)
    /// Retrying requests that got no answer or a server error. Default `Retry()`.
    public var retry: Retry = Retry()
    /// How many times a batch re-reads revisions and writes again the `.replace` documents that
    /// conflicted (someone else updated them in between). Past this the document fails with `conflict`. Default 5.
    public var maxConflictRetries: Int = 5
    /// Largest answer body accepted. Default 64 MiB.
    public var maxResponseBytes: Int = 64 * 1024 * 1024

    /// - Throws: `RecordStoreError` with code `invalid_configuration` for a URL that is not http(s) with a host,
    ///   or an invalid database name.
    public init(url: URL, database: String, user: String? = nil, password: String? = nil) throws {
        guard var components = URLComponents(url: url, resolvingAgainstBaseURL: false),
            let scheme = components.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = components.host, !host.isEmpty
        else {
            // Not printing the URL: it may carry a password.
            throw RecordStoreError.invalidConfiguration("CouchDB URL must be http(s)://host[:port][/prefix]")
        }
        guard Self.isValidDatabaseName(database) else {
            throw RecordStoreError.invalidConfiguration(
                "invalid database name '\(database)': a lowercase letter first, then a-z 0-9 _ $ ( ) + - /"
            )
        }
        self.user = user ?? components.user
        self.password = password ?? (user == nil ? components.password : nil)
        components.user = nil
        components.password = nil
        components.query = nil
        components.fragment = nil
        guard let stripped = components.url else {
            throw RecordStoreError.invalidConfiguration("CouchDB URL must be http(s)://host[:port][/prefix]")
        }
        self.url = stripped
        self.database = database
    }

    /// Convenience for a URL string, e.g. `http://admin:pw@127.0.0.1:5984`.
    public init(url: String, database: String, user: String? = nil, password: String? = nil) throws {
        guard let parsed = URL(string: url) else {
            throw RecordStoreError.invalidConfiguration("CouchDB URL is not a URL")
        }
        try self.init(url: parsed, database: database, user: user, password: password)
    }

    /// CouchDB's database name rule: `^[a-z][a-z0-9_$()+/-]*$`.
    public static func isValidDatabaseName(_ name: String) -> Bool {
        guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
        return name.unicodeScalars.allSatisfy { scalar in
            ("a"..."z").contains(scalar) || ("0"..."9").contains(scalar) || "_$()+-/".unicodeScalars.contains(scalar)
        }
    }

    public var description: String {
        "CouchDBConfiguration(url: \(self.url.absoluteString), database: \(self.database), user: \(self.user ?? "nil"), "
            + "password: \(self.password == nil ? "nil" : "***"))"
    }
}
