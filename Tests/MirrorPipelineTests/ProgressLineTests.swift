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
