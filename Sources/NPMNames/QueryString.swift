/// A URL's query string, `a=1&b=two+words`: names and values form-decoded (`+` is a space),
/// in order. A name or value whose escapes are malformed is kept as it was sent: a query is
/// matched against known names, so a bad one is simply not found.
public struct QueryString: Sendable {
    public private(set) var items: [(name: String, value: String)] = []

    /// Parses `raw`, the part after `?` (without it).
    public init(_ raw: some StringProtocol) {
        for pair in raw.split(separator: "&", omittingEmptySubsequences: true) {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let name = URLEncoding.decoded(parts[0], plusAsSpace: true) ?? String(parts[0])
            let value = parts.count > 1 ? (URLEncoding.decoded(parts[1], plusAsSpace: true) ?? String(parts[1])) : ""
            items.append((name, value))
        }
    }

    /// Splits a request target into its path and its query.
    public static func split(_ target: String) -> (path: Substring, query: QueryString) {
        guard let mark = target.firstIndex(of: "?") else { return (target[...], QueryString("")) }
        return (target[..<mark], QueryString(target[target.index(after: mark)...]))
    }

    /// The first value given for `name`.
    public subscript(name: String) -> String? {
        items.first { $0.name == name }?.value
    }

    public func contains(_ name: String) -> Bool {
        items.contains { $0.name == name }
    }
}
