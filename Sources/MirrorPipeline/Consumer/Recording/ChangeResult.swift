/// How a change ended, in one word: the `result` label of `npm_mirror_consumer_changes_total` and the
/// `outcome` of its change record. Decided in one place (``decide(processed:deadLettered:)``).
public enum ChangeResult: String, Sendable, CaseIterable {
    case stored, deleted, unpublished, skipped, superseded
    case deadLettered = "dead_lettered"

    /// A dead letter decides, whatever was processed; then what processing did; a change that was
    /// not processed and not dead-lettered (which the consumer does not record) counts as skipped.
    public static func decide(processed: ProcessedChange.Outcome?, deadLettered: Bool) -> ChangeResult {
        if deadLettered { return .deadLettered }
        switch processed {
        case .stored: return .stored
        case .deleted: return .deleted
        case .unpublished: return .unpublished
        case .skipped, nil: return .skipped
        case .superseded: return .superseded
        }
    }
}
