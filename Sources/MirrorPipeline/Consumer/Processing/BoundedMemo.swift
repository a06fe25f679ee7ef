import Crypto
import Synchronization

/// Remembers values by key within a stated number of bytes.
///
/// A key is kept as its SHA-256 digest (32 bytes, however long the key: a signature memo's key holds
/// the name, version, integrity, publish time and every signature, about 300 bytes). Each entry is
/// charged its digest, the value's size (`MemoryLayout` plus what `heapBytes` says it holds outside)
/// and the dictionary's own slot overhead; when the next entry would pass `maxBytes` the memo starts
/// again, empty. A memo forgets, so a value must be one it is correct to compute again.
final class BoundedMemo<Value: Sendable>: Sendable {
    /// The digest of a key: four words, hashed and compared as such.
    struct Digest: Hashable, Sendable {
        let words: (UInt64, UInt64, UInt64, UInt64)

        init(_ key: String) {
            let digest = SHA256.hash(data: Array(key.utf8))
            var words: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)
            withUnsafeMutableBytes(of: &words) { target in
                digest.withUnsafeBytes { source in target.copyMemory(from: source) }
            }
            self.words = words
        }

        static func == (lhs: Digest, rhs: Digest) -> Bool {
            lhs.words.0 == rhs.words.0 && lhs.words.1 == rhs.words.1 && lhs.words.2 == rhs.words.2 && lhs.words.3 == rhs.words.3
        }

        func hash(into hasher: inout Hasher) {
            hasher.combine(words.0)
            hasher.combine(words.1)
        }
    }

    /// Bytes a dictionary slot costs beyond its key and value: the spare capacity of the hash table at
    /// its worst (Swift's doubles its buckets at a 3/4 load, so just after growing it is 3/8 full: 8/3
    /// slots per entry), and a byte for its share of the bitmap. Charged in full, so `maxBytes` is an
    /// upper bound, not an average.
    static var slotOverhead: Int { (MemoryLayout<Digest>.stride + MemoryLayout<Value>.stride) * 5 / 3 + 1 }

    let maxBytes: Int
    private let heapBytes: @Sendable (Value) -> Int
    private let state = Mutex<(entries: [Digest: Value], bytes: Int)>(([:], 0))

    /// `heapBytes`: what a value holds outside its own inline size (string and array storage).
    init(maxBytes: Int, heapBytes: @escaping @Sendable (Value) -> Int = { _ in 0 }) {
        self.maxBytes = maxBytes
        self.heapBytes = heapBytes
    }

    /// The bytes one entry with `value` is charged.
    func cost(of value: Value) -> Int {
        MemoryLayout<Digest>.stride + MemoryLayout<Value>.stride + heapBytes(value) + Self.slotOverhead
    }

    func value(for key: String) -> Value? {
        let digest = Digest(key)
        return state.withLock { $0.entries[digest] }
    }

    func remember(_ value: Value, for key: String) {
        let digest = Digest(key)
        let cost = cost(of: value)
        state.withLock { state in
            if state.bytes + cost > maxBytes {
                state.entries.removeAll()
                state.bytes = 0
            }
            if let old = state.entries.updateValue(value, forKey: digest) {
                state.bytes -= self.cost(of: old)
            }
            state.bytes += cost
        }
    }

    func removeAll() {
        state.withLock { $0 = ([:], 0) }
    }

    /// Entries held now, and the bytes they are charged.
    var usage: (entries: Int, bytes: Int) {
        state.withLock { ($0.entries.count, $0.bytes) }
    }
}
