import NPMNames
import MirrorJSON

/// The parameters of `GET /registry/_all_docs`, read as CouchDB reads them
/// (`couch_mrview_http:parse_param`): keys are JSON, `limit` and `skip` non-negative integers,
/// `inclusive_end` a boolean; unknown parameters are ignored.
struct AllDocsQuery: Sendable, Equatable {
    /// One end of the key range. Ids are strings, and CouchDB's collation puts `null`, booleans and
    /// numbers before every string and arrays and objects after, so a key that is not a string is
    /// below or above every id.
    enum Bound: Sendable, Equatable {
        case belowAll
        case id(String)
        case aboveAll
    }

    /// `startkey` (`start_key`), inclusive. Default: below all.
    var start = Bound.belowAll
    /// `endkey` (`end_key`). Default: above all.
    var end = Bound.aboveAll
    /// `inclusive_end`. Default: true.
    var inclusiveEnd = true
    /// `limit`. Default: none (every row, as CouchDB).
    var limit: Int?
    /// `skip`: rows of the range left out before the first returned. Default: 0.
    var skip = 0

    /// A 400 answer, with CouchDB's `error` and `reason`.
    struct Refusal: Error, Sendable, Equatable {
        var error: String
        var reason: String
    }

    init() {}

    /// Reads `query`; throws the 400 CouchDB (or, for `include_docs`, the 2025 registry) would give.
    ///
    /// A key that is not JSON is `bad_request` / `invalid UTF-8 JSON` (CouchDB decodes JSON
    /// parameters with `?JSON_DECODE`, and chttpd answers its `invalid_json` that way); bad integers
    /// and booleans are `query_parse_error` with CouchDB's reasons; a start above the end is
    /// `query_parse_error` as CouchDB's range check gives it. `include_docs` is refused like the
    /// registry's `_changes` refuses it; `descending=true` and `keys` are refused because the
    /// simulator does not implement them.
    init(_ query: Query) throws(Refusal) {
        if query.contains("include_docs") {
            throw Refusal(error: "bad_request", reason: "'include_docs' is not supported; read each packument from the registry")
        }
        if query.contains("keys") {
            throw Refusal(error: "bad_request", reason: "'keys' is not supported by the simulator")
        }
        for (name, value) in query.items {
            switch name {
            case "key":
                let key = try Self.key(value)
                self.start = key
                self.end = key
            case "startkey", "start_key":
                self.start = try Self.key(value)
            case "endkey", "end_key":
                self.end = try Self.key(value)
            case "limit":
                self.limit = try Self.nonNegativeInteger(value)
            case "skip":
                self.skip = try Self.nonNegativeInteger(value)
            case "inclusive_end":
                self.inclusiveEnd = try Self.boolean(value)
            case "descending":
                if try Self.boolean(value) {
                    throw Refusal(error: "bad_request", reason: "'descending=true' is not supported by the simulator")
                }
            default:
                continue
            }
        }
        if Self.isAbove(self.start, self.end) {
            throw Refusal(
                error: "query_parse_error",
                reason: "No rows can match your key range, reverse your start_key and end_key or set descending=true"
            )
        }
    }

    /// Whether `id` is not past the end of the range.
    func includes(_ id: String) -> Bool {
        switch self.end {
        case .belowAll: return false
        case .aboveAll: return true
        case .id(let end): return self.inclusiveEnd ? !SortedNames.precedes(end, id) : SortedNames.precedes(id, end)
        }
    }

    private static func isAbove(_ start: Bound, _ end: Bound) -> Bool {
        switch (start, end) {
        case (.aboveAll, .belowAll), (.aboveAll, .id), (.id, .belowAll): return true
        case (.id(let start), .id(let end)): return SortedNames.precedes(end, start)
        default: return false
        }
    }

    private static func key(_ text: String) throws(Refusal) -> Bound {
        guard let value = try? JSONValue(parsing: text) else {
            throw Refusal(error: "bad_request", reason: "invalid UTF-8 JSON")
        }
        switch value {
        case .null, .bool, .number: return .belowAll
        case .string(let id): return .id(id)
        case .array, .object: return .aboveAll
        }
    }

    private static func nonNegativeInteger(_ text: String) throws(Refusal) -> Int {
        guard let value = Int(text) else {
            throw Refusal(error: "query_parse_error", reason: "Invalid value for integer: \"\(text)\"")
        }
        guard value >= 0 else {
            throw Refusal(error: "query_parse_error", reason: "Invalid value for positive integer: \"\(text)\"")
        }
        return value
    }

    private static func boolean(_ text: String) throws(Refusal) -> Bool {
        switch text.lowercased() {
        case "true": return true
        case "false": return false
        default: throw Refusal(error: "query_parse_error", reason: "Invalid boolean parameter: \"\(text)\"")
        }
    }
}
