import Foundation
import MirrorJSON

/// The registry keys a verifier trusts, by key id, in the order they were given.
///
/// Built in: ``npmBuiltIn`` (the public registry's two keys). Otherwise from a document in the shape of
/// `GET /-/npm/v1/keys` (``init(keysDocument:)``, ``init(contentsOfFile:)``); ``keysDocument`` writes
/// the set back in that shape, for the mirror to serve.
public struct TrustedKeys: Sendable, Equatable {
    /// The keys in the order given.
    public let keys: [RegistryKey]
    private let indexByKeyID: [String: Int]

    /// - Throws: ``SignatureFormatError`` `duplicate_keyid` when two keys share a key id.
    public init(_ keys: [RegistryKey]) throws(SignatureFormatError) {
        var index: [String: Int] = [:]
        for (position, key) in keys.enumerated() {
            guard index.updateValue(position, forKey: key.keyid) == nil else { throw .duplicateKeyID(key.keyid) }
        }
        self.keys = keys
        self.indexByKeyID = index
    }

    /// The set of one key.
    public init(key: RegistryKey) {
        self.keys = [key]
        self.indexByKeyID = [key.keyid: 0]
    }

    /// The key named `keyid`, if trusted.
    public subscript(keyid: String) -> RegistryKey? {
        indexByKeyID[keyid].map { keys[$0] }
    }

    public var isEmpty: Bool { keys.isEmpty }

    public static func == (lhs: TrustedKeys, rhs: TrustedKeys) -> Bool { lhs.keys == rhs.keys }
}

// MARK: - The /-/npm/v1/keys document

extension TrustedKeys {
    /// Reads a document in the shape of `GET /-/npm/v1/keys`:
    /// `{"keys":[{"expires": ISO 8601 | null, "keyid": …, "keytype": "ecdsa-sha2-nistp256",
    /// "scheme": "ecdsa-sha2-nistp256", "key": base64 DER SPKI}]}`.
    ///
    /// `keyid` and `key` are required; `expires` may be absent or null (a key in use); `keytype` and
    /// `scheme`, when present, must be `ecdsa-sha2-nistp256` (a key of another type is an error rather
    /// than skipped, so a trust file never silently trusts less than it says). Other members are
    /// ignored. An empty `keys` array is accepted (nothing is trusted: every signature is `unknown_key`).
    ///
    /// - Throws: ``SignatureFormatError`` naming the problem and the entry (`malformed_keys`,
    ///   `unsupported_key_type`, `invalid_key`, `malformed_time`, `duplicate_keyid`).
    public init(keysDocument bytes: some Collection<UInt8>) throws(SignatureFormatError) {
        let document: JSONValue
        do {
            document = try JSONValue(parsing: bytes)
        } catch {
            throw .malformedKeys("the keys document is not JSON (\(error))")
        }
        guard document.objectValue != nil else { throw .malformedKeys("the keys document is not a JSON object") }
        guard let entries = document["keys"]?.arrayValue else {
            throw .malformedKeys("the keys document has no \"keys\" array")
        }
        var keys: [RegistryKey] = []
        for (position, entry) in entries.enumerated() {
            keys.append(try Self.key(from: entry, position: position))
        }
        try self.init(keys)
    }

    /// Reads the keys document at `path` (``init(keysDocument:)``).
    public init(contentsOfFile path: String) throws(SignatureFormatError) {
        let bytes: Data
        do {
            bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw .unreadableFile(path, "\(error.localizedDescription)")
        }
        do {
            try self.init(keysDocument: bytes)
        } catch {
            throw SignatureFormatError(code: error.code, message: "\(path): \(error.message)")
        }
    }

    private static func key(from entry: JSONValue, position: Int) throws(SignatureFormatError) -> RegistryKey {
        let place = "keys[\(position)]"
        guard entry.objectValue != nil else { throw .malformedKeys("\(place) is not an object") }
        guard let keyid = entry["keyid"]?.stringValue, !keyid.isEmpty else {
            throw .malformedKeys("\(place) has no \"keyid\" string")
        }
        let named = "\(place) (\(keyid))"
        for member in ["keytype", "scheme"] {
            guard let value = entry[member], !value.isNull else { continue }
            guard value.stringValue == RegistryKey.keyType else {
                throw .unsupportedKeyType("\(named) has \(member) \(value), not \"\(RegistryKey.keyType)\"")
            }
        }
        guard let base64 = entry["key"]?.stringValue else { throw .malformedKeys("\(named) has no \"key\" string") }
        var expires: Date?
        switch entry["expires"] {
        case nil, .null?:
            expires = nil
        case .string(let text)?:
            guard let date = PublishTime.parse(text) else {
                throw .malformedTime("\(named) has \"expires\" \(JSONValue.string(text)), not an ISO 8601 time")
            }
            expires = date
        case let other?:
            throw .malformedKeys("\(named) has \"expires\" \(other), neither a time nor null")
        }
        do {
            return try RegistryKey(keyid: keyid, base64DER: base64, expires: expires)
        } catch {
            throw .invalidKey("\(named): \(error.message)")
        }
    }

    /// The set in the shape of `GET /-/npm/v1/keys`, keys in order, each with `expires` (null when
    /// none), `keyid`, `keytype`, `scheme` and `key`.
    public var keysDocument: JSONValue {
        .object([
            "keys": .array(
                keys.map { key in
                    .object([
                        "expires": key.expires.map { .string(PublishTime.format($0)) } ?? .null,
                        "keyid": .string(key.keyid),
                        "keytype": .string(RegistryKey.keyType),
                        "scheme": .string(RegistryKey.keyType),
                        "key": .string(key.base64DER),
                    ])
                })
        ])
    }

    /// ``keysDocument`` as compact JSON (members in ascending order): the body to serve at
    /// `/-/npm/v1/keys`.
    public var keysDocumentBytes: [UInt8] { keysDocument.serializedBytes }
}
