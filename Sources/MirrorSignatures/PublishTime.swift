import Foundation

/// Times as the registry writes them (`time[version]` of a full packument, a key's `expires`):
/// ISO 8601 in UTC with milliseconds, `2025-01-29T00:00:00.000Z`.
///
/// Dates here are kept at millisecond resolution, as JavaScript's `Date.parse` gives them to pacote, so
/// "published strictly before the key expires" compares whole milliseconds and a version published
/// 1 ms before a key's expiry is never rounded onto it.
public enum PublishTime {
    /// pacote's `MISSING_TIME_CUTOFF`, 2015-01-01T00:00:00.000Z: the publish time assumed for a version
    /// whose packument has no `time` entry ("some really old packages have no time field").
    public static let missingTimeCutoff = Date(timeIntervalSince1970: 1_420_070_400)

    /// Parses an ISO 8601 date-time with or without fractional seconds, `Z` or a numeric offset, and
    /// rounds it to the millisecond; nil when `text` is not one.
    public static func parse(_ text: String) -> Date? {
        let date =
            (try? Date(text, strategy: Date.ISO8601FormatStyle(includingFractionalSeconds: true)))
            ?? (try? Date(text, strategy: Date.ISO8601FormatStyle()))
        return date.map { Date(timeIntervalSince1970: Double(milliseconds($0)) / 1000) }
    }

    /// `date` as the registry writes it: UTC, three fraction digits, `Z`.
    public static func format(_ date: Date) -> String {
        // Foundation's fractional formatting truncates (….999 can come out as ….998), so the whole
        // seconds are formatted by Foundation and the milliseconds are written here.
        let total = milliseconds(date)
        let (seconds, fraction) = (total.quotientAndRemainder(dividingBy: 1000))
        let wholeSeconds = fraction < 0 ? seconds - 1 : seconds
        let millis = fraction < 0 ? fraction + 1000 : fraction
        let text = Date(timeIntervalSince1970: Double(wholeSeconds)).formatted(Date.ISO8601FormatStyle())
        let digits = String(millis)
        return text.dropLast() + "." + String(repeating: "0", count: 3 - digits.count) + digits + "Z"
    }

    /// Milliseconds since 1970, rounded.
    static func milliseconds(_ date: Date) -> Int64 {
        Int64((date.timeIntervalSince1970 * 1000).rounded())
    }
}
