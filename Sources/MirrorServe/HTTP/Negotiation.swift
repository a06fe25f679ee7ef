#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The header rules the registry answers by: content negotiation and conditional requests.
enum Negotiation {
    static let abbreviatedMediaType = "application/vnd.npm.install-v1+json"

    /// Whether `Accept` asks for the abbreviated document: the npm media type is listed with a
    /// non-zero quality (npm and pnpm send it first in a q-list). `application/json`, `*/*` or no
    /// `Accept` get the full document.
    static func wantsAbbreviated(accept: String?) -> Bool {
        guard let accept else { return false }
        return parseList(accept).contains { $0.value.lowercased() == abbreviatedMediaType && $0.quality > 0 }
    }

    /// Whether `Accept` asks for a web page: `text/html` listed with a quality above zero and at least
    /// that of `application/json` and of npm's media type. A browser does; npm (`application/json` or
    /// the npm type), curl (`*/*`) and a missing header do not.
    static func wantsHTML(accept: String?) -> Bool {
        guard let accept else { return false }
        let items = parseList(accept)
        func quality(_ type: String) -> Double { items.first { $0.value.lowercased() == type }?.quality ?? 0 }
        let html = quality("text/html")
        return html > 0 && html >= quality("application/json") && html >= quality(abbreviatedMediaType)
    }

    /// Whether `Accept-Encoding` accepts gzip (`gzip`, `x-gzip` or `*`, quality above zero, and
    /// not refused by an explicit `gzip;q=0`).
    static func acceptsGzip(acceptEncoding: String?) -> Bool {
        guard let acceptEncoding else { return false }
        let items = parseList(acceptEncoding)
        if let gzip = items.first(where: { ["gzip", "x-gzip"].contains($0.value.lowercased()) }) { return gzip.quality > 0 }
        return items.contains { $0.value == "*" && $0.quality > 0 }
    }

    /// Whether a conditional request gets 304: `If-None-Match` decides when present (it matches
    /// the ETag), otherwise `If-Modified-Since` (nothing changed since). The slow path and the fast
    /// path both answer by this rule.
    static func isNotModified(ifNoneMatch: String?, ifModifiedSince: String?, etag: String, modified: Int) -> Bool {
        if let ifNoneMatch { return matches(ifNoneMatch: ifNoneMatch, etag: etag) }
        if let since = ifModifiedSince.flatMap(parseHTTPDate) { return modified <= since }
        return false
    }

    /// `If-None-Match` against a strong ETag (weak comparison, as RFC 9110 asks for this header).
    static func matches(ifNoneMatch: String, etag: String) -> Bool {
        let wanted = opaque(etag)
        for candidate in ifNoneMatch.split(separator: ",") {
            let trimmed = candidate.trimmingSpaces
            if trimmed == "*" || opaque(trimmed) == wanted { return true }
        }
        return false
    }

    private static func opaque(_ tag: some StringProtocol) -> Substring {
        let text = Substring(tag)
        return text.hasPrefix("W/") ? text.dropFirst(2) : text
    }

    /// `value;q=…` items of a comma-separated header.
    static func parseList(_ header: String) -> [(value: String, quality: Double)] {
        header.split(separator: ",").compactMap { item in
            let parts = item.split(separator: ";")
            guard let value = parts.first?.trimmingSpaces, !value.isEmpty else { return nil }
            var quality = 1.0
            for parameter in parts.dropFirst() {
                let pair = parameter.split(separator: "=", maxSplits: 1)
                if pair.count == 2, pair[0].trimmingSpaces.lowercased() == "q" { quality = Double(pair[1].trimmingSpaces) ?? 0 }
            }
            return (String(value), quality)
        }
    }

    // MARK: Dates (IMF-fixdate, RFC 9110)

    private static let days = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"]
    private static let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]

    /// `Sun, 06 Nov 1994 08:49:37 GMT`.
    static func httpDate(_ secondsSince1970: Int) -> String {
        var time = time_t(secondsSince1970)
        var parts = tm()
        gmtime_r(&time, &parts)
        func two(_ value: Int32) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(days[Int(parts.tm_wday)]), \(two(parts.tm_mday)) \(months[Int(parts.tm_mon)]) \(parts.tm_year + 1900) \(two(parts.tm_hour)):\(two(parts.tm_min)):\(two(parts.tm_sec)) GMT"
    }

    /// Seconds since 1970 of an IMF-fixdate, or nil for anything else (the obsolete forms included:
    /// an unparsable `If-Modified-Since` is ignored, as RFC 9110 says).
    static func parseHTTPDate(_ text: String) -> Int? {
        let fields = text.split(separator: " ")
        guard fields.count == 6, fields[5] == "GMT", fields[0].count == 4, fields[0].hasSuffix(","),
            let day = Int32(fields[1]), let month = months.firstIndex(of: String(fields[2])), let year = Int32(fields[3])
        else { return nil }
        let clock = fields[4].split(separator: ":")
        guard clock.count == 3, let hour = Int32(clock[0]), let minute = Int32(clock[1]), let second = Int32(clock[2]) else { return nil }
        var parts = tm()
        parts.tm_year = year - 1900
        parts.tm_mon = Int32(month)
        parts.tm_mday = day
        parts.tm_hour = hour
        parts.tm_min = minute
        parts.tm_sec = second
        return Int(timegm(&parts))
    }
}

extension StringProtocol {
    var trimmingSpaces: Substring {
        var text = Substring(self)
        while let first = text.first, first == " " || first == "\t" { text.removeFirst() }
        while let last = text.last, last == " " || last == "\t" { text.removeLast() }
        return text
    }
}
