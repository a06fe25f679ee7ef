import Foundation

/// What a value should have looked like.
struct ParseFailure: Error {
    let expected: String
}

/// Parsers from text to checked values, one per kind of setting.
enum Parse {
    static func any(_ text: String) -> Result<String, ParseFailure> { .success(text) }

    static func nonEmpty(_ text: String) -> Result<String, ParseFailure> {
        text.trimmingCharacters(in: .whitespaces).isEmpty ? .failure(ParseFailure(expected: "a non-empty value")) : .success(text)
    }

    static func integer(in range: ClosedRange<Int>) -> (String) -> Result<Int, ParseFailure> {
        { text in
            guard let value = Int(text.trimmingCharacters(in: .whitespaces)), range.contains(value) else {
                return .failure(ParseFailure(expected: "a whole number from \(range.lowerBound) to \(range.upperBound)"))
            }
            return .success(value)
        }
    }

    static func replicationFactor(_ text: String) -> Result<Int, ParseFailure> {
        guard let value = Int(text.trimmingCharacters(in: .whitespaces)), value == -1 || (1...32).contains(value) else {
            return .failure(ParseFailure(expected: "-1 (the broker's default) or a whole number from 1 to 32"))
        }
        return .success(value)
    }

    static func oneOf(_ choices: [String]) -> (String) -> Result<String, ParseFailure> {
        { text in
            let lowered = text.lowercased()
            return choices.contains(lowered) ? .success(lowered) : .failure(ParseFailure(expected: "one of \(choices.joined(separator: ", "))"))
        }
    }

    static func boolean(_ text: String) -> Result<Bool, ParseFailure> {
        switch text.lowercased().trimmingCharacters(in: .whitespaces) {
        case "true", "1", "yes": .success(true)
        case "false", "0", "no": .success(false)
        default: .failure(ParseFailure(expected: "true or false"))
        }
    }

    static func seqResetPolicy(_ text: String) -> Result<MirrorConfiguration.SeqResetPolicy, ParseFailure> {
        MirrorConfiguration.SeqResetPolicy(rawValue: text.lowercased()).map { .success($0) }
            ?? .failure(ParseFailure(expected: "keep-highest or restart-from-head"))
    }

    static func storeSync(_ text: String) -> Result<MirrorConfiguration.StoreSync, ParseFailure> {
        MirrorConfiguration.StoreSync(rawValue: text.lowercased()).map { .success($0) }
            ?? .failure(ParseFailure(expected: "grouped or file"))
    }

    static func signaturePolicy(_ text: String) -> Result<MirrorConfiguration.Signatures.Policy, ParseFailure> {
        MirrorConfiguration.Signatures.Policy(rawValue: text.lowercased()).map { .success($0) }
            ?? .failure(ParseFailure(expected: "record, require or off"))
    }

    /// A positive duration: a number of seconds, or a number with `ms`, `s`, `m` or `h`.
    static func duration(_ text: String) -> Result<Duration, ParseFailure> {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(String, Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600)]
        var number = Substring(trimmed)
        var scale = 1.0
        if let (suffix, factor) = units.first(where: { trimmed.hasSuffix($0.0) }) {
            number = trimmed.dropLast(suffix.count)
            scale = factor
        }
        guard let value = Double(number.trimmingCharacters(in: .whitespaces)), value > 0, value * scale <= 86_400 * 7 else {
            return .failure(ParseFailure(expected: "a positive duration such as 500ms, 20s, 5m or 1h (at most a week)"))
        }
        return .success(.milliseconds(Int64((value * scale * 1000).rounded())))
    }

    /// A duration, or `off` (nil).
    static func durationOrOff(_ text: String) -> Result<Duration?, ParseFailure> {
        if text.trimmingCharacters(in: .whitespaces).lowercased() == "off" { return .success(nil) }
        return duration(text).map { $0 }
    }

    /// An age such as `7d`, `36h`, `90m` or `2w` (at most a year), or `off`/`0` (nil).
    static func ageOrOff(_ text: String) -> Result<Duration?, ParseFailure> {
        let trimmed = text.trimmingCharacters(in: .whitespaces).lowercased()
        if trimmed == "off" || trimmed == "0" { return .success(nil) }
        let units: [(String, Int64)] = [("w", 7 * 86_400), ("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)]
        guard let (suffix, factor) = units.first(where: { trimmed.hasSuffix($0.0) }),
            let count = Int64(trimmed.dropLast(suffix.count).trimmingCharacters(in: .whitespaces)), count > 0, count * factor <= 366 * 86_400
        else {
            return .failure(ParseFailure(expected: "an age such as 7d, 36h, 90m or 2w (at most a year), or off"))
        }
        return .success(.seconds(count * factor))
    }

    /// A number of requests per second, 0 or more (0: no limit).
    static func rate(_ text: String) -> Result<Double, ParseFailure> {
        guard let value = Double(text.trimmingCharacters(in: .whitespaces)), value >= 0, value.isFinite else {
            return .failure(ParseFailure(expected: "a number of requests per second, 0 or more (0: no limit)"))
        }
        return .success(value)
    }

    static func startSequence(_ text: String) -> Result<MirrorConfiguration.StartSequence, ParseFailure> {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed.lowercased() == "now" { return .success(.now) }
        if let seq = Int64(trimmed), seq >= 0 { return .success(.seq(seq)) }
        return .failure(ParseFailure(expected: "a seq number (0 or more) or \"now\""))
    }

    /// An absolute http(s) URL; a trailing slash is removed.
    static func httpURL(_ text: String) -> Result<String, ParseFailure> {
        var trimmed = text.trimmingCharacters(in: .whitespaces)
        while trimmed.hasSuffix("/") { trimmed.removeLast() }
        guard let url = URL(string: trimmed), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
            let host = url.host, !host.isEmpty
        else {
            return .failure(ParseFailure(expected: "an http:// or https:// URL with a host"))
        }
        return .success(trimmed)
    }

    /// Kafka's topic name rule: 1-249 characters of ASCII letters, digits, `.`, `_` and `-`, not `.` or `..`.
    static func topicName(_ text: String) -> Result<String, ParseFailure> {
        let allowed = text.utf8.allSatisfy { byte in
            (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5A) || (byte >= 0x61 && byte <= 0x7A)
                || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
        }
        guard allowed, (1...249).contains(text.utf8.count), text != ".", text != ".." else {
            return .failure(ParseFailure(expected: "a Kafka topic name (1-249 of letters, digits, '.', '_', '-')"))
        }
        return .success(text)
    }

    /// CouchDB's database name rule: a lower-case letter, then lower-case letters, digits and `_$()+-/`.
    static func couchDBDatabaseName(_ text: String) -> Result<String, ParseFailure> {
        let allowedRest = Set("abcdefghijklmnopqrstuvwxyz0123456789_$()+-/")
        guard let first = text.first, first.isASCII, first.isLowercase, text.count <= 238, text.dropFirst().allSatisfy({ allowedRest.contains($0) }) else {
            return .failure(ParseFailure(expected: "a CouchDB database name (a lower-case letter, then a-z, 0-9, _$()+-/)"))
        }
        return .success(text)
    }

    /// A byte count: a whole number, optionally with a unit (`KB`/`MB`/`GB` = powers of 1000,
    /// `KiB`/`MiB`/`GiB` = powers of 1024).
    static func byteSize(_ text: String) -> Result<Int64, ParseFailure> {
        let units: [(String, Int64)] = [
            ("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30),
            ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("B", 1),
        ]
        let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
        var number = Substring(trimmed)
        var multiplier: Int64 = 1
        if let (suffix, factor) = units.first(where: { trimmed.hasSuffix($0.0) }) {
            number = trimmed.dropLast(suffix.count)
            multiplier = factor
        }
        guard let value = Int64(number.trimmingCharacters(in: .whitespaces)), value > 0 else {
            return .failure(ParseFailure(expected: "a positive byte count such as 10000000, 10MB or 100MiB"))
        }
        let (product, overflow) = value.multipliedReportingOverflow(by: multiplier)
        return overflow ? .failure(ParseFailure(expected: "a byte count below 8 EiB")) : .success(product)
    }
}
