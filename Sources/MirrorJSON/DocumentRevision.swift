/// CouchDB's document revisions, `<generation>-<hash>`: the registry's packuments carry one in
/// `_rev`, and the store and the records order what they hold by its generation.
public enum DocumentRevision {
    /// The generation (how many edits the document has had), or nil when `rev` does not start with
    /// `<digits>-`.
    public static func generation(_ rev: String) -> Int? {
        guard let dash = rev.firstIndex(of: "-") else { return nil }
        let digits = rev[..<dash]
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }
}
