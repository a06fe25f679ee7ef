/// A value from an open set of names: coded as its bare string, printed as it.
public protocol OpenStringValue: Sendable, Hashable, Codable, CustomStringConvertible {
    var rawValue: String { get }
    init(_ rawValue: String)
}

extension OpenStringValue {
    public init(from decoder: any Decoder) throws {
        self.init(try decoder.singleValueContainer().decode(String.self))
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(self.rawValue)
    }

    public var description: String { self.rawValue }
}

/// What a fault does to a response.
///
/// An open set of values (not an enum) so kinds can be added without breaking callers.
public struct FaultKind: OpenStringValue {
    public let rawValue: String

    public init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    /// 429 with a `Retry-After` header (`retryAfterSeconds`, default 1).
    public static let rateLimited = FaultKind("rate-limited")
    /// An error status (`status`, default 500; 502 and 503 are the usual others).
    public static let httpError = FaultKind("http-error")
    /// Waits `delayMilliseconds` (default 2000) before answering; with `bytesPerSecond`
    /// the body then trickles out at that rate.
    public static let slowResponse = FaultKind("slow")
    /// Sends the headers and half the body without a `Content-Length`, then closes.
    public static let closeMidBody = FaultKind("close-mid-body")
    /// Announces the full `Content-Length`, sends half the bytes, then closes.
    public static let truncatedBody = FaultKind("truncated-body")
    /// Serves bytes that do not match `dist.integrity` (same length, bytes flipped).
    public static let corruptTarball = FaultKind("corrupt-tarball")
    /// Serves a JSON body cut short, with a correct `Content-Length`.
    public static let malformedJSON = FaultKind("malformed-json")
    /// Pads the body to at least `bodyBytes` (default 32 MiB): JSON stays valid
    /// (whitespace); other bodies get zero bytes appended.
    public static let hugeBody = FaultKind("huge-body")
    /// Renumbers the changes feed from 1 before answering, so it jumps backwards.
    public static let seqReset = FaultKind("seq-reset")

    public static let all: [FaultKind] = [
        .rateLimited, .httpError, .slowResponse, .closeMidBody, .truncatedBody,
        .corruptTarball, .malformedJSON, .hugeBody, .seqReset,
    ]
}

/// Which requests a fault applies to.
public struct FaultTarget: OpenStringValue {
    public let rawValue: String

    public init(_ rawValue: String) {
        self.rawValue = rawValue
    }

    /// `GET /` of either service.
    public static let root = FaultTarget("root")
    /// `GET /registry/_changes`.
    public static let changes = FaultTarget("changes")
    /// `GET /registry/_all_docs`.
    public static let allDocs = FaultTarget("all-docs")
    /// `GET /<name>` (and version documents).
    public static let packument = FaultTarget("packument")
    /// `GET /<name>/-/<file>.tgz`.
    public static let tarball = FaultTarget("tarball")
    /// `GET /-/npm/v1/keys`.
    public static let keys = FaultTarget("keys")
    /// `GET /-/npm/v1/attestations/<name>@<version>`.
    public static let attestations = FaultTarget("attestations")

    public static let all: [FaultTarget] = [.root, .changes, .allDocs, .packument, .tarball, .keys, .attestations]
}

/// One fault and when it fires.
///
/// A rule matches requests of its `targets` (all of them when empty) whose path starts
/// with `pathPrefix` (when set). Of the matching requests, the first `skip` pass; then
/// each fires with `probability` (drawn from the simulator's seeded generator, so runs
/// are repeatable) until it has fired `count` times (forever when `nil`).
public struct FaultRule: Sendable, Hashable, Codable {
    public var kind: FaultKind
    /// Request kinds the rule applies to; empty means all. Default: all.
    public var targets: Set<FaultTarget>
    /// Only requests whose raw path starts with this. Default: `nil` (any path).
    public var pathPrefix: String?
    /// Chance of firing on a matching request. Default: 1.
    public var probability: Double
    /// How many times the rule fires before it is removed. Default: `nil` (unlimited).
    public var count: Int?
    /// Matching requests let through before the rule starts firing. Default: 0.
    public var skip: Int
    /// `httpError`: the status. Default: 500.
    public var status: Int?
    /// `rateLimited`: the `Retry-After` value. Default: 1.
    public var retryAfterSeconds: Int?
    /// `slowResponse`: delay before the response. Default: 2000.
    public var delayMilliseconds: Int?
    /// `slowResponse`: when set, the body is sent at about this rate.
    public var bytesPerSecond: Int?
    /// `hugeBody`: minimum body size. Default: 32 MiB.
    public var bodyBytes: Int?

    public init(
        kind: FaultKind,
        targets: Set<FaultTarget> = [],
        pathPrefix: String? = nil,
        probability: Double = 1,
        count: Int? = nil,
        skip: Int = 0,
        status: Int? = nil,
        retryAfterSeconds: Int? = nil,
        delayMilliseconds: Int? = nil,
        bytesPerSecond: Int? = nil,
        bodyBytes: Int? = nil
    ) {
        self.kind = kind
        self.targets = targets
        self.pathPrefix = pathPrefix
        self.probability = probability
        self.count = count
        self.skip = skip
        self.status = status
        self.retryAfterSeconds = retryAfterSeconds
        self.delayMilliseconds = delayMilliseconds
        self.bytesPerSecond = bytesPerSecond
        self.bodyBytes = bodyBytes
    }

    func matches(_ target: FaultTarget, path: String) -> Bool {
        (self.targets.isEmpty || self.targets.contains(target))
            && (self.pathPrefix.map { path.hasPrefix($0) } ?? true)
    }

    // MARK: Codable (admin endpoint JSON)

    private enum CodingKeys: String, CodingKey {
        case kind, targets, target, path, probability, count, skip, status
        case retryAfterSeconds = "retryAfter"
        case delayMilliseconds = "delayMs"
        case bytesPerSecond
        case bodyBytes = "bytes"
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        self.kind = try container.decode(FaultKind.self, forKey: .kind)
        var targets = try container.decodeIfPresent(Set<FaultTarget>.self, forKey: .targets) ?? []
        if let target = try container.decodeIfPresent(FaultTarget.self, forKey: .target) {
            targets.insert(target)
        }
        self.targets = targets
        self.pathPrefix = try container.decodeIfPresent(String.self, forKey: .path)
        self.probability = try container.decodeIfPresent(Double.self, forKey: .probability) ?? 1
        self.count = try container.decodeIfPresent(Int.self, forKey: .count)
        self.skip = try container.decodeIfPresent(Int.self, forKey: .skip) ?? 0
        self.status = try container.decodeIfPresent(Int.self, forKey: .status)
        self.retryAfterSeconds = try container.decodeIfPresent(Int.self, forKey: .retryAfterSeconds)
        self.delayMilliseconds = try container.decodeIfPresent(Int.self, forKey: .delayMilliseconds)
        self.bytesPerSecond = try container.decodeIfPresent(Int.self, forKey: .bytesPerSecond)
        self.bodyBytes = try container.decodeIfPresent(Int.self, forKey: .bodyBytes)
        try self.validate()
    }

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(self.kind, forKey: .kind)
        try container.encode(self.targets.map(\.rawValue).sorted(), forKey: .targets)
        try container.encodeIfPresent(self.pathPrefix, forKey: .path)
        try container.encode(self.probability, forKey: .probability)
        try container.encodeIfPresent(self.count, forKey: .count)
        try container.encode(self.skip, forKey: .skip)
        try container.encodeIfPresent(self.status, forKey: .status)
        try container.encodeIfPresent(self.retryAfterSeconds, forKey: .retryAfterSeconds)
        try container.encodeIfPresent(self.delayMilliseconds, forKey: .delayMilliseconds)
        try container.encodeIfPresent(self.bytesPerSecond, forKey: .bytesPerSecond)
        try container.encodeIfPresent(self.bodyBytes, forKey: .bodyBytes)
    }

    /// Checks the rule makes sense; throws `RegistrySimulatorError.invalidFault`.
    public func validate() throws {
        guard FaultKind.all.contains(self.kind) else {
            throw RegistrySimulatorError.invalidFault("unknown kind '\(self.kind)'; known: \(FaultKind.all.map(\.rawValue).joined(separator: ", "))")
        }
        for target in self.targets where !FaultTarget.all.contains(target) {
            throw RegistrySimulatorError.invalidFault("unknown target '\(target)'; known: \(FaultTarget.all.map(\.rawValue).joined(separator: ", "))")
        }
        guard (0...1).contains(self.probability) else {
            throw RegistrySimulatorError.invalidFault("probability must be between 0 and 1")
        }
        if let count = self.count, count < 1 {
            throw RegistrySimulatorError.invalidFault("count must be at least 1")
        }
        if let status = self.status, !(400...599).contains(status) {
            throw RegistrySimulatorError.invalidFault("status must be between 400 and 599")
        }
        guard self.skip >= 0 else {
            throw RegistrySimulatorError.invalidFault("skip must not be negative")
        }
    }
}

extension FaultRule {
    /// Parses the command-line form `kind[@target[+target…]][,key=value…]`, for example
    /// `http-error@tarball,status=503,probability=0.1` or `rate-limited@changes,count=3,retry-after=2`.
    ///
    /// Keys: `probability`, `count`, `skip`, `status`, `retry-after`, `delay-ms`,
    /// `bytes-per-second`, `bytes`, `path`.
    public init(spec: String) throws {
        var parts = spec.split(separator: ",", omittingEmptySubsequences: true).map(String.init)
        guard !parts.isEmpty else { throw RegistrySimulatorError.invalidFault("empty fault spec") }
        let head = parts.removeFirst().split(separator: "@", maxSplits: 1).map(String.init)
        self.init(kind: FaultKind(head[0]))
        if head.count == 2 {
            self.targets = Set(head[1].split(separator: "+").map { FaultTarget(String($0)) })
        }
        for part in parts {
            let pair = part.split(separator: "=", maxSplits: 1).map(String.init)
            guard pair.count == 2 else {
                throw RegistrySimulatorError.invalidFault("expected key=value, got '\(part)' in '\(spec)'")
            }
            func int() throws -> Int {
                guard let value = Int(pair[1]) else {
                    throw RegistrySimulatorError.invalidFault("'\(pair[0])' needs an integer, got '\(pair[1])'")
                }
                return value
            }
            switch pair[0] {
            case "probability":
                guard let value = Double(pair[1]) else {
                    throw RegistrySimulatorError.invalidFault("probability needs a number, got '\(pair[1])'")
                }
                self.probability = value
            case "count": self.count = try int()
            case "skip": self.skip = try int()
            case "status": self.status = try int()
            case "retry-after": self.retryAfterSeconds = try int()
            case "delay-ms": self.delayMilliseconds = try int()
            case "bytes-per-second": self.bytesPerSecond = try int()
            case "bytes": self.bodyBytes = try int()
            case "path": self.pathPrefix = pair[1]
            default:
                throw RegistrySimulatorError.invalidFault("unknown key '\(pair[0])' in '\(spec)'")
            }
        }
        try self.validate()
    }
}
