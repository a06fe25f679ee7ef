import MirrorKafka
import MirrorTestSupport
import Testing

@testable import MirrorPipeline

@Suite("The consumer's Progress line")
struct ProgressLineTests {
    @Test("says what was done since the last line, the lag and the time left; quiet when idle with nothing behind")
    func progressLine() {
        let logs = CapturedLogs()
        let logger = logs.logger()
        let start = ContinuousClock.now
        var line = ProgressLine(since: start, last: ConsumerProgress())

        var progress = ConsumerProgress()
        progress.changesProcessed = 600
        progress.tarballsStored = 30
        progress.tarballBytes = 12_500_000
        progress.highestCompleteSeq = 4242
        line.log(progress, lag: 36_000, now: start + .seconds(60), to: logger)
        let first = logs.all.last ?? ""
        #expect(first.hasPrefix("notice Progress"), "\(logs.all)")
        // 600 changes in 60 s: 10 a second; 36,000 behind at that rate is one hour.
        for (key, value) in [("changes_per_second", "10.0"), ("changes", "600"), ("lag", "36000"), ("eta_hours", "1.0"), ("tarball_mb", "12.5"), ("npm.seq", "4242")] {
            #expect(Self.has(first, key, value), "\(key): \(value) in \(first)")
        }

        // Nothing done since, nothing behind: no line.
        line.log(progress, lag: 0, now: start + .seconds(120), to: logger)
        #expect(logs.all.count == 1)
        // Nothing done but a lag (a stuck consumer): a line, with no time left to promise.
        line.log(progress, lag: 5, now: start + .seconds(180), to: logger)
        #expect(logs.all.count == 2)
        #expect(Self.has(logs.all[1], "changes_per_second", "0.0") && !logs.all[1].contains("eta_hours"), "\(logs.all[1])")
    }

    /// Whether a captured line holds `key: value` (the metadata is printed as a dictionary).
    private static func has(_ line: String, _ key: String, _ value: String) -> Bool {
        line.contains("\"\(key)\": \(value)") || line.contains("\"\(key)\": \"\(value)\"") || line.contains("\(key): \(value)")
    }
}

@Suite("Changes the topic no longer held (OffsetGaps)")
struct OffsetGapsTests {
    let p0 = KafkaTopicPartition(topic: "t", partition: 0)
    let p1 = KafkaTopicPartition(topic: "t", partition: 1)

    @Test("a first message past the committed offset, or a jump between messages, is a gap; redelivery is not")
    func gaps() {
        var gaps = OffsetGaps()
        // Committed at 100, but the oldest message left is 160: 60 changes were deleted. The committed
        // offset is known only after a few more messages (the broker answered late).
        #expect(gaps.observe(p0, offset: 160) == nil)
        #expect(gaps.observe(p0, offset: 161) == nil)
        #expect(gaps.unresolved == [p0])
        #expect(gaps.resolve(p0, start: 100) == OffsetGaps.Gap(partition: p0, from: 100, to: 160))
        #expect(gaps.unresolved.isEmpty)
        #expect(gaps.resolve(p0, start: 0) == nil, "resolved once")
        #expect(gaps.observe(p0, offset: 150) == nil, "delivered again after a pause: not a gap")
        #expect(gaps.observe(p0, offset: 162) == nil)
        #expect(gaps.observe(p0, offset: 170)?.count == 7, "163..<170")
        // No committed offset: the partition should start at 0.
        #expect(gaps.observe(p1, offset: 0) == nil)
        #expect(gaps.resolve(p1, start: 0) == nil)
        var fresh = OffsetGaps()
        _ = fresh.observe(p1, offset: 75_000)
        #expect(fresh.resolve(p1, start: 0)?.count == 75_000)
        // A jump while the start is still unknown is reported too.
        var late = OffsetGaps()
        _ = late.observe(p0, offset: 10)
        #expect(late.observe(p0, offset: 20)?.count == 9)
        #expect(late.resolve(p0, start: 10) == nil)
        // After a rebalance, partitions start again from the group's committed offsets.
        gaps.forgetAll()
        #expect(gaps.unresolved.isEmpty)
        _ = gaps.observe(p0, offset: 300)
        #expect(gaps.resolve(p0, start: 300) == nil)
    }
}
