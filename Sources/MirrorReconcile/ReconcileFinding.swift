import MirrorRecords

/// What reconciling one package found when the registry's list and the mirror's records disagree.
public enum ReconcileFinding: Sendable, Hashable {
    /// The registry lists the package at `rev`; the mirror has no record of it.
    case missing(id: String, rev: String)
    /// The registry lists the package at `rev`; the mirror's record holds the older `mirrorRev`
    /// (nil: a record without a revision).
    case stale(id: String, rev: String, mirrorRev: String?)
    /// The mirror holds a live record of the package at `mirrorRev`; the registry no longer lists it,
    /// and the mirror saw no deletion.
    case vanished(id: String, mirrorRev: String?)

    public var id: String {
        switch self {
        case .missing(let id, _), .stale(let id, _, _), .vanished(let id, _): id
        }
    }

    /// The kind, as the report and the metrics name it.
    public var kind: Kind {
        switch self {
        case .missing: .missing
        case .stale: .stale
        case .vanished: .vanished
        }
    }

    /// The bounded name of a finding's kind (a metric label, a JSON key).
    public enum Kind: String, Sendable, Hashable, CaseIterable {
        case missing, stale, vanished
    }
}

/// How one package of the registry's list compares with the mirror's record of it: the rule of
/// ``Reconciliation``, a pure function of the two.
public enum ReconcileRule {
    /// The registry lists `id` at `rev`; `record` is the mirror's package record (nil: none).
    /// Nil when the mirror is current: its record holds `rev`'s generation or a newer one.
    public static func compare(id: String, rev: String, record: StoredRecord?) -> ReconcileFinding? {
        guard let record else { return .missing(id: id, rev: rev) }
        // The revision the record describes: the stored packument's, or for a deletion the deleted
        // document's (`packument_rev` either way).
        let held = record.body["packument_rev"]?.stringValue
        guard let wanted = DocumentRevision.generation(rev) else { return nil }
        guard let held, let have = DocumentRevision.generation(held) else { return .stale(id: id, rev: rev, mirrorRev: held) }
        return have < wanted ? .stale(id: id, rev: rev, mirrorRev: held) : nil
    }

    /// A record the registry does not list: vanished when it is live (a deletion or an unpublication
    /// the mirror saw explains the rest).
    public static func unlisted(_ record: StoredRecord) -> ReconcileFinding? {
        record.isLivePackage ? .vanished(id: record.id, mirrorRev: record.body["packument_rev"]?.stringValue) : nil
    }
}
