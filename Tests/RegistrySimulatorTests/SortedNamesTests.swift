import Testing

@testable import RegistrySimulator

@Suite("The sorted index behind _all_docs")
struct SortedNamesTests {
    @Test("inserts and removals across many chunk splits keep byte order, and windows match a sorted array (seeded)")
    func againstASortedArray() {
        var random = SplitMix64(seed: 42)
        let alphabet = Array("abc-._@/0").map(String.init)
        func name() -> String { (0..<Int.random(in: 1...4, using: &random)).map { _ in alphabet.randomElement(using: &random)! }.joined() + "\(Int.random(in: 0..<2000, using: &random))" }
        var reference = Set((0..<700).map { _ in name() })
        var index = SortedNames(Array(reference) + Array(reference.prefix(50)))
        #expect(index.count == reference.count, "duplicates are held once")
        for step in 0..<6000 {
            let candidate = step % 3 == 2 ? (reference.randomElement(using: &random) ?? name()) : name()
            if step % 3 == 2 {
                index.remove(candidate)
                reference.remove(candidate)
            } else {
                index.insert(candidate)
                reference.insert(candidate)
            }
        }
        let sorted = reference.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        #expect(sorted.count > 2 * SortedNames.chunkCapacity, "enough names for several splits")
        #expect(index.count == sorted.count)
        #expect(index.window(from: nil, skip: 0, limit: .max, while: { _ in true }).names == sorted)
        #expect(sorted.allSatisfy(index.contains) && !index.contains("not-there-at-all"))

        for start in [0, 1, 511, 1024, 1500, sorted.count - 1] {
            let window = index.window(from: sorted[start], skip: 3, limit: 700, while: { _ in true })
            #expect(window.offset == start)
            #expect(window.names == Array(sorted.dropFirst(start + 3).prefix(700)))
        }
        let bounded = index.window(from: sorted[10], skip: 0, limit: .max, while: { !sorted[20].utf8.lexicographicallyPrecedes($0.utf8) })
        #expect(bounded.names == Array(sorted[10...20]))
        let beyond = index.window(from: sorted.last! + "~", skip: 0, limit: 10, while: { _ in true })
        #expect(beyond.offset == sorted.count && beyond.names.isEmpty)
        #expect(index.window(from: nil, skip: sorted.count + 5, limit: 10, while: { _ in true }).names.isEmpty)

        for name in sorted { index.remove(name) }
        #expect(index.count == 0 && index.window(from: nil, skip: 0, limit: 10, while: { _ in true }).names.isEmpty)
        index.insert("again")
        #expect(index.count == 1 && index.contains("again"))
    }
}
