/// A set of document ids in byte order (UTF-8, compared byte by byte), for `_all_docs`.
///
/// CouchDB sorts `_all_docs` by its collation (ICU); for the ASCII names npm allows, byte order is
/// what a client can rely on, so the simulator uses it. The ids sit in chunks of at most
/// `chunkCapacity`, so an insert or a removal moves at most one chunk's worth of names (a flat sorted
/// array of 4 million names would move tens of MB per publish), and a page starts with two binary
/// searches and copies only its own names.
struct SortedNames: Sendable {
    static let chunkCapacity = 1024

    /// Non-empty chunks in order; every name of a chunk precedes every name of the next one.
    private var chunks: [[String]] = []
    /// Names held.
    private(set) var count = 0

    /// The distinct names of `names`, sorted once.
    init(_ names: some Sequence<String>) {
        var sorted = Array(names)
        sorted.sort(by: Self.precedes)
        var chunk: [String] = []
        chunk.reserveCapacity(Self.chunkCapacity)
        var previous: String?
        for name in sorted {
            if let previous, Self.same(previous, name) { continue }
            previous = name
            chunk.append(name)
            self.count += 1
            // Half full, so the first inserts into a chunk do not split it at once.
            if chunk.count == Self.chunkCapacity / 2 {
                self.chunks.append(chunk)
                chunk.removeAll(keepingCapacity: true)
            }
        }
        if !chunk.isEmpty { self.chunks.append(chunk) }
    }

    /// Byte order of the UTF-8 forms (not `String`'s `<`, which compares canonical equivalents).
    static func precedes(_ a: String, _ b: String) -> Bool {
        a.utf8.lexicographicallyPrecedes(b.utf8)
    }

    static func same(_ a: String, _ b: String) -> Bool {
        a.utf8.elementsEqual(b.utf8)
    }

    func contains(_ name: String) -> Bool {
        guard let (chunk, index) = self.position(of: name) else { return false }
        return index < self.chunks[chunk].count && Self.same(self.chunks[chunk][index], name)
    }

    mutating func insert(_ name: String) {
        guard let (chunk, index) = self.position(of: name) else {
            self.chunks = [[name]]
            self.count = 1
            return
        }
        if index < self.chunks[chunk].count && Self.same(self.chunks[chunk][index], name) { return }
        self.chunks[chunk].insert(name, at: index)
        self.count += 1
        if self.chunks[chunk].count > Self.chunkCapacity {
            let half = self.chunks[chunk].count / 2
            let upper = Array(self.chunks[chunk][half...])
            self.chunks[chunk].removeSubrange(half...)
            self.chunks.insert(upper, at: chunk + 1)
        }
    }

    mutating func remove(_ name: String) {
        guard let (chunk, index) = self.position(of: name), index < self.chunks[chunk].count,
            Self.same(self.chunks[chunk][index], name)
        else { return }
        self.chunks[chunk].remove(at: index)
        self.count -= 1
        if self.chunks[chunk].isEmpty { self.chunks.remove(at: chunk) }
    }

    /// A window of names in order: from the first name not below `start` (the first name when nil),
    /// `skip` further on, at most `limit` names, stopping at the first for which `include` is false.
    /// `offset` is the number of names below `start` (CouchDB's `offset`: skipped names not counted).
    func window(from start: String?, skip: Int, limit: Int, while include: (String) -> Bool) -> (offset: Int, names: [String]) {
        var chunk = 0
        var index = 0
        if let start, let (found, at) = self.position(of: start) {
            chunk = found
            index = at
        }
        let offset = self.chunks[..<min(chunk, self.chunks.count)].reduce(0) { $0 + $1.count } + index
        var skip = skip
        while skip > 0 && chunk < self.chunks.count {
            let available = self.chunks[chunk].count - index
            if skip >= available {
                skip -= available
                chunk += 1
                index = 0
            } else {
                index += skip
                skip = 0
            }
        }
        var names: [String] = []
        names.reserveCapacity(min(limit, 4096))
        while names.count < limit && chunk < self.chunks.count {
            if index == self.chunks[chunk].count {
                chunk += 1
                index = 0
                continue
            }
            let name = self.chunks[chunk][index]
            guard include(name) else { break }
            names.append(name)
            index += 1
        }
        return (offset, names)
    }

    /// Where `name` is or would go: its chunk (the first whose last name is not below it, else the
    /// last chunk) and its index there (which may be the chunk's end). Nil when the set is empty.
    private func position(of name: String) -> (chunk: Int, index: Int)? {
        guard !self.chunks.isEmpty else { return nil }
        var low = 0
        var high = self.chunks.count
        while low < high {
            let mid = (low + high) / 2
            if Self.precedes(self.chunks[mid].last!, name) { low = mid + 1 } else { high = mid }
        }
        let chunk = min(low, self.chunks.count - 1)
        let names = self.chunks[chunk]
        var first = 0
        var last = names.count
        while first < last {
            let mid = (first + last) / 2
            if Self.precedes(names[mid], name) { first = mid + 1 } else { last = mid }
        }
        return (chunk, first)
    }
}
