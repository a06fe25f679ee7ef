/// What checking a version's registry signatures (`dist.signatures`) found.
///
/// The raw values are snake_case and bounded: they are metric label values and record fields.
public enum SignatureVerdict: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// A signature by a trusted key, good for the version's publish time, verifies.
    case verified
    /// The version has no registry signatures (absent, null or an empty array).
    case missing
    /// No signature verified, and the signatures name only keys that are not trusted.
    case unknownKey = "unknown_key"
    /// No signature verified, and the best of them is a genuine signature by a trusted key that had
    /// expired when the version was published.
    case expiredKey = "expired_key"
    /// No signature verified, and at least one by a trusted key does not verify (another message, not
    /// base64, not DER), or `dist.signatures` itself is malformed.
    case invalid

    public var description: String { rawValue }
}
