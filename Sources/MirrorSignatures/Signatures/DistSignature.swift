import MirrorJSON

/// One entry of a version's `dist.signatures`: `{"keyid": "SHA256:…", "sig": base64 DER ECDSA}`.
public struct DistSignature: Sendable, Hashable {
    /// The id of the registry key that made the signature (``RegistryKey/keyid``).
    public var keyid: String
    /// Base64 of the DER-encoded ECDSA P-256 signature, as the registry sent it.
    public var sig: String

    public init(keyid: String, sig: String) {
        self.keyid = keyid
        self.sig = sig
    }

    /// The entry as JSON: `{"keyid": …, "sig": …}`.
    public var json: JSONValue { ["keyid": .string(keyid), "sig": .string(sig)] }

    /// Reads `dist.signatures`: absent (nil) or null is an empty list; otherwise it must be an array of
    /// objects, each with string `keyid` and `sig` (other members are ignored).
    ///
    /// - Throws: ``SignatureFormatError`` `malformed_signatures` for anything else.
    public static func list(from value: JSONValue?) throws(SignatureFormatError) -> [DistSignature] {
        guard let value, !value.isNull else { return [] }
        guard let entries = value.arrayValue else { throw .malformedSignatures("dist.signatures is not an array") }
        var signatures: [DistSignature] = []
        for (position, entry) in entries.enumerated() {
            guard let keyid = entry["keyid"]?.stringValue, let sig = entry["sig"]?.stringValue else {
                throw .malformedSignatures("dist.signatures[\(position)] is not {\"keyid\": string, \"sig\": string}")
            }
            signatures.append(DistSignature(keyid: keyid, sig: sig))
        }
        return signatures
    }
}
