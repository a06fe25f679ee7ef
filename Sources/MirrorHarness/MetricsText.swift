import Foundation

/// The samples of a Prometheus text exposition (what `/metrics` serves and `METRICS_FILE` holds).
public struct MetricsText: Sendable {
    public struct Sample: Sendable {
        public var name: String
        public var labels: [String: String]
        public var value: Double
    }

    public var samples: [Sample]

    public init(contentsOf path: String) throws {
        try self.init(String(contentsOfFile: path, encoding: .utf8))
    }

    public init(_ text: String) {
        samples = text.split(separator: "\n").compactMap { line in
            line.hasPrefix("#") ? nil : Self.parse(line)
        }
    }

    /// The sum of every sample named `name` whose labels include `matching`.
    public func sum(_ name: String, matching: [String: String] = [:]) -> Double {
        samples.lazy
            .filter { sample in sample.name == name && matching.allSatisfy { key, value in sample.labels[key] == value } }
            .reduce(0) { $0 + $1.value }
    }

    /// The distinct values of `label` among the samples named `name`.
    public func labelValues(_ name: String, label: String) -> [String] {
        Array(Set(samples.filter { $0.name == name }.compactMap { $0.labels[label] })).sorted()
    }

    /// `name{a="x",b="y"} 1.5` (a trailing timestamp, if any, is ignored).
    private static func parse(_ line: Substring) -> Sample? {
        var labels: [String: String] = [:]
        let name: Substring
        var rest: Substring
        if let brace = line.firstIndex(of: "{"), let close = line.lastIndex(of: "}") {
            name = line[..<brace]
            for pair in line[line.index(after: brace)..<close].split(separator: ",") {
                let parts = pair.split(separator: "=", maxSplits: 1)
                guard parts.count == 2 else { continue }
                labels[String(parts[0]).trimmingCharacters(in: .whitespaces)] = String(parts[1]).trimmingCharacters(in: CharacterSet(charactersIn: "\" "))
            }
            rest = line[line.index(after: close)...]
        } else {
            guard let space = line.firstIndex(of: " ") else { return nil }
            name = line[..<space]
            rest = line[space...]
        }
        guard let valueText = rest.split(separator: " ").first, let value = Double(valueText) else { return nil }
        return Sample(name: String(name), labels: labels, value: value)
    }
}
