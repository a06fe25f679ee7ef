@testable import MirrorPipeline
import MirrorConfig
import MirrorSignatures
import Testing

@Suite("The signature memos are bounded by bytes")
struct BoundedMemoTests {
    @Test("a memo never charges more than its bound, starts again when full, and keeps what fits")
    func bound() {
        let memo = BoundedMemo<SignatureVerdict>(maxBytes: 64 << 10)
        let perEntry = memo.cost(of: .verified)
        // A key of about 300 bytes, as a real one: charged as its 32-byte digest.
        let long = String(repeating: "k", count: 300)
        var mostBytes = 0
        var restarts = 0
        var previous = 0
        for index in 0..<10_000 {
            memo.remember(index % 2 == 0 ? .verified : .invalid, for: "\(long)\(index)")
            let usage = memo.usage
            mostBytes = max(mostBytes, usage.bytes)
            if usage.entries < previous { restarts += 1 }
            previous = usage.entries
        }
        #expect(mostBytes <= 64 << 10)
        #expect(restarts >= 1, "10,000 entries fit in 64 KiB: the bound was never reached")
        #expect(perEntry < 100, "an entry costs \(perEntry) bytes: the key is not held as a digest")
        // What was remembered since the last restart is still there, by its full key.
        #expect(memo.value(for: "\(long)9999") == .invalid)
        #expect(memo.value(for: "\(long)9998") == .verified)
        #expect(memo.value(for: "never remembered") == nil)
    }

    @Test("the same key again replaces its value without charging twice")
    func replace() {
        let memo = BoundedMemo<String>(maxBytes: 1 << 20) { $0.utf8.count }
        memo.remember("a", for: "key")
        let once = memo.usage.bytes
        memo.remember("b", for: "key")
        #expect(memo.usage.entries == 1)
        #expect(memo.usage.bytes == once)
        #expect(memo.value(for: "key") == "b")
        memo.remember(String(repeating: "x", count: 1000), for: "key")
        #expect(memo.usage.bytes == once + 999)
    }

    @Test("the consumer's two memos together stay within 32 MiB")
    func consumerBound() {
        let signatures = VersionSignatures(policy: .record, keys: .npmBuiltIn)
        #expect(signatures.memo.maxBytes + signatures.provenanceMemo.maxBytes <= 32 << 20)
    }
}
