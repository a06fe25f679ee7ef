import Foundation
import Testing

@testable import MirrorStore

@Suite("Version retention")
struct VersionRetentionTests {
    @Test("foobar: newest by time, plus latest")
    func foobar() throws {
        let json = try Fixtures.bytes("packument-foobar.json")
        #expect(try VersionRetention.versionsToKeep(packumentJSON: json, limit: 1) == ["1.1.0"])
        #expect(try VersionRetention.versionsToKeep(packumentJSON: json, limit: 2) == ["1.0.0", "1.1.0"])
        #expect(try VersionRetention.versionsToKeep(packumentJSON: json, limit: 0) == ["1.1.0"])
        #expect(try VersionRetention.versionsToKeep(packumentJSON: json, limit: nil) == ["1.0.0", "1.1.0"])
    }

    @Test("security holding: time lists versions that are gone; only the remaining one is kept")
    func securityHolding() throws {
        let json = try Fixtures.bytes("packument-security-holding.json")
        #expect(try VersionRetention.versionsToKeep(packumentJSON: json, limit: 1) == ["0.0.1-security"])
        #expect(try VersionRetention.versionsToKeep(packumentJSON: json, limit: 5) == ["0.0.1-security"])
    }

    @Test("latest is kept even when older than the newest N; undated versions count as oldest")
    func latestAndUndated() {
        let time = [
            "1.0.0": "2020-01-01T00:00:00.000Z",
            "2.0.0": "2021-01-01T00:00:00Z",
            "3.0.0": "2022-01-01T00:00:00.500Z",
            "3.0.1": "2022-01-01T00:00:00.900Z",
        ]
        let versions = ["1.0.0", "2.0.0", "3.0.0", "3.0.1", "0.0.0-undated"]
        #expect(VersionRetention.versionsToKeep(versions: versions, time: time, latest: "1.0.0", limit: 1) == ["3.0.1", "1.0.0"])
        #expect(VersionRetention.versionsToKeep(versions: versions, time: time, latest: nil, limit: 3) == ["3.0.1", "3.0.0", "2.0.0"])
        #expect(VersionRetention.versionsToKeep(versions: versions, time: time, latest: "9.9.9", limit: 4).count == 4)
        #expect(VersionRetention.versionsToKeep(versions: versions, time: time, latest: nil, limit: 5).contains("0.0.0-undated"))
    }
}
