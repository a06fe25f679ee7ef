/// The replicate feed: every document appears once, at the seq of its latest change
/// (CouchDB semantics), so seqs have gaps where earlier changes were superseded.
struct ChangesLog: Sendable {
    struct Entry: Sendable, Hashable {
        var seq: Int
        var id: String
        var rev: String
        var deleted: Bool
    }

    /// Entries in increasing seq order, including superseded ones (skipped on read).
    private var entries: [Entry] = []
    /// The seq of each document's live entry.
    private var liveSeq: [String: Int] = [:]
    /// The last seq handed out (`update_seq`).
    private(set) var head: Int = 0

    var liveCount: Int { self.liveSeq.count }

    /// Appends a change for `id` at `head + 1 + gap`, superseding its previous entry.
    @discardableResult
    mutating func append(id: String, rev: String, deleted: Bool, gap: Int) -> Int {
        let seq = self.head + 1 + max(0, gap)
        self.head = seq
        self.entries.append(Entry(seq: seq, id: id, rev: rev, deleted: deleted))
        self.liveSeq[id] = seq
        if self.entries.count > 1024 && self.entries.count > 2 * self.liveSeq.count {
            self.compact()
        }
        return seq
    }

    /// Up to `limit` live entries with `seq > since`, and the `last_seq` to report.
    func page(since: Int, limit: Int) -> (results: [Entry], lastSeq: Int) {
        var low = 0
        var high = self.entries.count
        while low < high {
            let mid = (low + high) / 2
            if self.entries[mid].seq <= since { low = mid + 1 } else { high = mid }
        }
        var results: [Entry] = []
        results.reserveCapacity(min(limit, 1024))
        var index = low
        while index < self.entries.count && results.count < limit {
            let entry = self.entries[index]
            if self.liveSeq[entry.id] == entry.seq {
                results.append(entry)
            }
            index += 1
        }
        return (results, results.last?.seq ?? since)
    }

    /// Renumbers the live entries densely from 1, as a rebuilt replica would: the head
    /// moves backwards and later changes get seqs lower than ones already handed out.
    mutating func renumber() {
        self.compact()
        var renumbered: [Entry] = []
        renumbered.reserveCapacity(self.entries.count)
        self.liveSeq.removeAll(keepingCapacity: true)
        for (offset, entry) in self.entries.enumerated() {
            var moved = entry
            moved.seq = offset + 1
            renumbered.append(moved)
            self.liveSeq[moved.id] = moved.seq
        }
        self.entries = renumbered
        self.head = renumbered.last?.seq ?? 0
    }

    private mutating func compact() {
        let live = self.liveSeq
        self.entries.removeAll { live[$0.id] != $0.seq }
    }
}
