import NPMNames
import Synchronization

/// The registry's documents, their revision histories and the changes feed.
///
/// All state sits behind one `Mutex`; callers get value copies (copy-on-write, so cheap)
/// and render or hash outside the lock.
final class RegistryModel: Sendable {
    /// One package as the generator or the directory loader hands it over.
    struct InitialPackage: Sendable {
        var name: String
        var content: PackageContent
        /// How many changes the document has had (`G` in its `_rev`).
        var generation: Int
        /// The `_rev` to use instead of a synthesized one (recorded documents).
        var rev: String?
    }

    /// What one write did.
    struct ChangeRecord: Sendable, Hashable {
        /// The change's seq in the feed; nil for a change the feed never announced.
        var seq: Int?
        var name: String
        var rev: String
        var deleted: Bool
    }

    /// One page of `_all_docs`: ids with their current revs.
    struct AllDocsPage: Sendable {
        /// Documents listed: live packages and the design documents.
        var totalRows: Int
        /// Ids below the start of the range.
        var offset: Int
        var rows: [(id: String, rev: String)]
    }

    /// The design documents the replicate database holds besides the packages (as npm's did:
    /// `_design/app` and `_design/scratch`), with their generations. `_all_docs` lists them, so a client
    /// has to step over them; the feed and `doc_count` leave them out, as they always have here.
    static let designDocuments: [(id: String, generation: Int)] = [("_design/app", 3), ("_design/scratch", 1)]

    private struct State {
        /// Revision history per package, oldest first; the last one is current.
        var histories: [String: [PackageRevision]] = [:]
        /// The ids `_all_docs` lists (live packages and design documents) in order: built by the first
        /// `_all_docs` request (runs that never ask pay nothing), then kept up to date by every write.
        var allDocsIndex: SortedNames?
        /// Names in creation order (live changes pick from these).
        var names: [String] = []
        var log = ChangesLog()
        /// While set, `_changes` is answered from this frozen copy of the feed.
        var stalledLog: ChangesLog?
        var docCount = 0
        var random: SplitMix64
        var replicaLag: Duration
    }

    let seed: UInt64
    /// The `_rev` of each design document.
    let designRevisions: [String: String]
    private let state: Mutex<State>

    init(packages: [InitialPackage], seed: UInt64, replicaLag: Duration) {
        self.seed = seed
        self.designRevisions = Dictionary(
            uniqueKeysWithValues: Self.designDocuments.map { ($0.id, Revision.make(name: $0.id, generation: $0.generation, seed: seed)) }
        )
        var state = State(random: SplitMix64(seed: seed, stream: "changes-log"), replicaLag: replicaLag)
        for package in packages {
            let rev = package.rev ?? Revision.make(name: package.name, generation: package.generation, seed: seed)
            let revision = PackageRevision(
                name: package.name,
                generation: package.generation,
                rev: rev,
                content: package.content,
                changedAt: nil
            )
            if state.histories[package.name] == nil {
                state.names.append(package.name)
            } else if !(state.histories[package.name]?.last?.content.isDeleted ?? true) {
                state.docCount -= 1
            }
            state.histories[package.name] = [revision]
            if !package.content.isDeleted { state.docCount += 1 }
            let gap = state.random.int(in: 0...min(max(package.generation - 1, 0), 4))
            state.log.append(id: package.name, rev: rev, deleted: package.content.isDeleted, gap: gap)
        }
        self.state = Mutex(state)
    }

    // MARK: Reads

    /// `(doc_count, update_seq)` for the replicate root.
    func databaseInfo() -> (docCount: Int, updateSeq: Int) {
        self.state.withLock { ($0.docCount, $0.log.head) }
    }

    func changes(since: Int, limit: Int) -> (results: [ChangesLog.Entry], lastSeq: Int) {
        self.state.withLock { state in
            (state.stalledLog ?? state.log).page(since: since, limit: limit)
        }
    }

    /// A page of `_all_docs`: the ids in `query`'s range, each with its current rev (the rev `_changes`
    /// announces; with replica lag the registry may serve an older packument for a while). Only the
    /// page's ids are copied under the lock.
    func allDocs(_ query: AllDocsQuery) -> AllDocsPage {
        self.state.withLock { state in
            if state.allDocsIndex == nil {
                var ids = state.histories.compactMap { $0.value.last?.content.isDeleted == false ? $0.key : nil }
                ids.append(contentsOf: self.designRevisions.keys)
                state.allDocsIndex = SortedNames(ids)
            }
            let index = state.allDocsIndex!
            let start: String?
            switch query.start {
            case .belowAll: start = nil
            case .id(let id): start = id
            case .aboveAll: return AllDocsPage(totalRows: index.count, offset: index.count, rows: [])
            }
            let window = index.window(from: start, skip: query.skip, limit: query.limit ?? .max, while: query.includes)
            let rows = window.names.map { id in
                (id: id, rev: state.histories[id]?.last?.rev ?? self.designRevisions[id] ?? "")
            }
            return AllDocsPage(totalRows: index.count, offset: window.offset, rows: rows)
        }
    }

    /// The current revision, ignoring replica lag.
    func currentRevision(of name: String) -> PackageRevision? {
        self.state.withLock { $0.histories[name]?.last }
    }

    /// The revision the registry serves now: the newest one older than the replica lag.
    /// `nil` when the name is unknown or its first revision is not visible yet.
    func servedRevision(of name: String, now: ContinuousClock.Instant = .now) -> PackageRevision? {
        self.state.withLock { state in
            guard var history = state.histories[name] else { return nil }
            let lag = state.replicaLag
            guard let visible = history.lastIndex(where: { $0.changedAt.map { $0 + lag <= now } ?? true }) else {
                return nil
            }
            if visible > 0 {
                history.removeFirst(visible)
            }
            // Once served, a revision stays visible, even if the lag is raised later.
            if history[0].changedAt != nil {
                history[0].changedAt = nil
            }
            state.histories[name] = history
            return history[0]
        }
    }

    /// All retained revisions of `name`, newest first (for tarball lookups).
    func revisions(of name: String) -> [PackageRevision] {
        self.state.withLock { $0.histories[name]?.reversed() ?? [] }
    }

    var packageNames: [String] {
        self.state.withLock { $0.names }
    }

    func contains(_ name: String) -> Bool {
        self.state.withLock { $0.histories[name] != nil }
    }

    // MARK: Writes

    /// Atomically replaces `name`'s document with `transform(current)` and, when `announce` is true,
    /// appends the change to the feed. Returns `nil` (and changes nothing) when `transform` does.
    ///
    /// An unannounced change takes no seq: `update_seq` stays where it is and the feed keeps the
    /// document's previous entry, if it had one (with the previous rev, or no `deleted`). Handing out
    /// a seq that no page ever returns would leave `update_seq` on a seq no follower can reach.
    @discardableResult
    func update(
        _ name: String,
        now: ContinuousClock.Instant = .now,
        announce: Bool = true,
        _ transform: (PackageContent?) throws -> PackageContent?
    ) rethrows -> ChangeRecord? {
        try self.state.withLock { state -> ChangeRecord? in
            let current = state.histories[name]?.last
            guard let content = try transform(current?.content) else { return nil }
            let generation = (current?.generation ?? 0) + 1
            let rev = Revision.make(name: name, generation: generation, seed: self.seed)
            let revision = PackageRevision(name: name, generation: generation, rev: rev, content: content, changedAt: now)
            if current == nil {
                state.names.append(name)
            }
            let wasLive = current.map { !$0.content.isDeleted } ?? false
            if wasLive && content.isDeleted {
                state.docCount -= 1
                state.allDocsIndex?.remove(name)
            }
            if !wasLive && !content.isDeleted {
                state.docCount += 1
                state.allDocsIndex?.insert(name)
            }
            var history = state.histories[name] ?? []
            history.append(revision)
            if state.replicaLag == .zero { history.removeFirst(history.count - 1) }
            state.histories[name] = history
            var seq: Int?
            if announce {
                let gap = state.random.int(in: 0...2)
                seq = state.log.append(id: name, rev: rev, deleted: content.isDeleted, gap: gap)
            }
            return ChangeRecord(seq: seq, name: name, rev: rev, deleted: content.isDeleted)
        }
    }

    /// Picks a package whose current document satisfies `predicate`.
    func randomName(
        using random: inout SplitMix64,
        where predicate: (PackageContent) -> Bool
    ) -> String? {
        self.state.withLock { state in
            guard !state.names.isEmpty else { return nil }
            for _ in 0..<32 {
                let name = random.pick(state.names)
                if let content = state.histories[name]?.last?.content, predicate(content) {
                    return name
                }
            }
            return nil
        }
    }

    // MARK: Feed faults

    var isStalled: Bool {
        self.state.withLock { $0.stalledLog != nil }
    }

    /// Freezes (or unfreezes) what `_changes` returns; `update_seq` keeps advancing.
    func setStalled(_ stalled: Bool) {
        self.state.withLock { state in
            if stalled {
                if state.stalledLog == nil { state.stalledLog = state.log }
            } else {
                state.stalledLog = nil
            }
        }
    }

    /// Renumbers the feed from 1 (a replica rebuilt from scratch). Returns the new head.
    @discardableResult
    func resetSequence() -> Int {
        self.state.withLock { state in
            state.log.renumber()
            if state.stalledLog != nil { state.stalledLog = state.log }
            return state.log.head
        }
    }

    var replicaLag: Duration {
        get { self.state.withLock { $0.replicaLag } }
        set { self.state.withLock { $0.replicaLag = newValue } }
    }
}
