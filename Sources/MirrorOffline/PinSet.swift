import Crypto
import Foundation
import MirrorJSON
import NPMNames

/// The versions one lockfile names, kept by the mirror whatever `OLD_PACKAGE_VERSIONS_LIMIT` says
/// (`npm-mirror pin FILE`, or a lockfile in `PIN_DIRECTORY`).
///
/// Stored as `<pin folder>/<id>.json`:
/// ```json
/// {"id":"package-lock.json-3fa2c1d0","source":"/srv/app/package-lock.json","pinned_at":"2026-12-07T20:00:00Z",
///  "packages":{"@scope/a":["1.0.0"],"left-pad":["1.3.0","1.1.3"]}}
/// ```
public struct PinSet: Sendable, Hashable {
    /// The file name without `.json`: lowercase letters, digits, `.`, `_` and `-`, at most 120.
    public var id: String
    /// Where the versions came from (the lockfile's path, as given).
    public var source: String
    /// When it was pinned (ISO 8601).
    public var pinnedAt: String
    /// Package name → the versions pinned (sorted, no duplicates).
    public var packages: [String: [String]]

    public init(id: String, source: String, pinnedAt: String, packages: [String: [String]]) {
        self.id = id
        self.source = source
        self.pinnedAt = pinnedAt
        self.packages = packages.mapValues { Array(Set($0)).sorted() }
    }

    /// How many versions it pins.
    public var versionCount: Int { packages.values.reduce(0) { $0 + $1.count } }

    /// The id a lockfile's pin set is stored under: its file name (made safe) and a hash of its
    /// absolute path, so two `package-lock.json` of different projects are two sets and pinning the
    /// same file again replaces its set.
    public static func id(forLockfileAt path: String, prefix: String = "") -> String {
        let absolute = URL(fileURLWithPath: path).standardizedFileURL.path
        let base = safeIDPart((path as NSString).lastPathComponent)
        return prefix + base.prefix(80) + "-" + Hex.encode(SHA256.hash(data: Array(absolute.utf8))).prefix(8)
    }

    /// Whether `text` can be a pin set's id (a file name of its own, never a path).
    public static func isValidID(_ text: String) -> Bool {
        !text.isEmpty && text.utf8.count <= 120 && !text.hasPrefix(".")
            && text.utf8.allSatisfy { isIDByte($0) }
    }

    private static func isIDByte(_ byte: UInt8) -> Bool {
        (UInt8(ascii: "a")...UInt8(ascii: "z")).contains(byte) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte)
            || byte == UInt8(ascii: ".") || byte == UInt8(ascii: "_") || byte == UInt8(ascii: "-")
    }

    public static func safeIDPart(_ text: String) -> String {
        let bytes = text.lowercased().utf8.map { isIDByte($0) ? $0 : UInt8(ascii: "_") }
        let part = String(decoding: bytes, as: UTF8.self)
        return part.hasPrefix(".") ? "_" + part.dropFirst() : (part.isEmpty ? "lockfile" : part)
    }

    // MARK: JSON

    public var json: JSONValue {
        .object([
            "id": .string(id),
            "source": .string(source),
            "pinned_at": .string(pinnedAt),
            "packages": .object(packages.mapValues { .array($0.map(JSONValue.string)) }),
        ])
    }

    /// Reads a stored pin set; throws ``PinError`` naming what is wrong.
    public init(json: JSONValue) throws(PinError) {
        guard let id = json["id"]?.stringValue, Self.isValidID(id) else { throw PinError("a pin set without a valid \"id\"") }
        guard let packages = json["packages"]?.objectValue else { throw PinError("pin set \(id) has no \"packages\" object") }
        var pinned: [String: [String]] = [:]
        for (name, versions) in packages {
            guard PackageName.problem(with: name) == nil else { throw PinError("pin set \(id) names an invalid package \(name.prefix(100).debugDescription)") }
            guard let list = versions.arrayValue?.compactMap(\.stringValue) else { throw PinError("pin set \(id): the versions of \(name) are not a list of strings") }
            pinned[name] = list
        }
        self.init(id: id, source: json["source"]?.stringValue ?? "", pinnedAt: json["pinned_at"]?.stringValue ?? "", packages: pinned)
    }
}

/// A pin set that cannot be read or written, or a lockfile that cannot be pinned.
public struct PinError: Error, CustomStringConvertible, Sendable {
    public let description: String

    public init(_ description: String) {
        self.description = description
    }
}
