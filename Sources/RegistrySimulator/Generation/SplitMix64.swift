/// A small, fast, seedable pseudo-random generator (SplitMix64, Steele et al.).
///
/// The simulator uses it instead of `SystemRandomNumberGenerator` so that the same seed
/// always yields the same registry, byte for byte, on every platform and Swift version:
/// all the range helpers below are implemented here rather than through the standard
/// library's `random(in:using:)`, whose algorithm is not part of its contract.
struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    init(seed: UInt64) {
        self.state = seed
    }

    /// A generator for an independent stream derived from `seed` and a salt.
    init(seed: UInt64, stream: String) {
        var mixer = SplitMix64(seed: seed ^ Self.fnv1a(stream))
        self.state = mixer.next()
    }

    /// FNV-1a of a string's UTF-8 bytes: a stable hash (Swift's `Hasher` is seeded per process).
    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        return hash
    }

    mutating func next() -> UInt64 {
        self.state &+= 0x9E37_79B9_7F4A_7C15
        var z = self.state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A uniformly distributed integer in `range` (modulo bias is negligible for our ranges).
    mutating func int(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) &+ 1
        if span == 0 { return Int(truncatingIfNeeded: self.next()) }
        return range.lowerBound + Int(self.next() % span)
    }

    /// A double in `0..<1`.
    mutating func unit() -> Double {
        Double(self.next() >> 11) / Double(UInt64(1) << 53)
    }

    /// `true` with probability `probability`.
    mutating func chance(_ probability: Double) -> Bool {
        self.unit() < probability
    }

    mutating func pick<T>(_ elements: [T]) -> T {
        elements[self.int(in: 0...(elements.count - 1))]
    }

    /// Fills `buffer` with pseudo-random bytes (incompressible payloads).
    mutating func fill(_ buffer: UnsafeMutableRawBufferPointer) {
        var offset = 0
        let count = buffer.count
        while offset + 8 <= count {
            buffer.storeBytes(of: self.next(), toByteOffset: offset, as: UInt64.self)
            offset += 8
        }
        if offset < count {
            var last = self.next()
            while offset < count {
                buffer[offset] = UInt8(truncatingIfNeeded: last)
                last >>= 8
                offset += 1
            }
        }
    }
}
