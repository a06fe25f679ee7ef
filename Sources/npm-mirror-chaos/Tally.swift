import Foundation
import Synchronization

/// The suite's running count, printed at the end.
final class Tally: Sendable {
    struct Counts: Sendable {
        var scenarios: [(name: String, outcome: String, detail: String)] = []
        var kills = 0
        var gracefulStops = 0
        var faultsInjected = 0
        var badInputs = 0
        var changesChecked = 0
        var changesLost = 0
        var duplicates = 0
        var partialFiles = 0
        var badTarballs = 0
        var filesOutside = 0
        var secretLeaks = 0
    }

    private let counts = Mutex(Counts())

    func update(_ body: (inout Counts) -> Void) {
        counts.withLock { body(&$0) }
    }

    var snapshot: Counts { counts.withLock { $0 } }

    func add(_ audit: Audit) {
        update {
            $0.changesChecked += audit.distinctSeqs
            $0.changesLost += audit.changesLost
            $0.duplicates += audit.duplicates
            $0.partialFiles += audit.partialFiles
            $0.badTarballs += audit.badTarballs
            $0.filesOutside += audit.filesOutside
        }
    }

    var failed: Bool {
        let counts = snapshot
        return counts.scenarios.contains { $0.outcome == "FAILED" } || counts.changesLost > 0 || counts.duplicates > 0
            || counts.partialFiles > 0 || counts.badTarballs > 0 || counts.filesOutside > 0 || counts.secretLeaks > 0
    }

    var summary: String {
        let counts = snapshot
        var lines = ["", "npm-mirror reliability suite"]
        for scenario in counts.scenarios {
            lines.append("  \(scenario.outcome.padding(toLength: 7, withPad: " ", startingAt: 0)) \(scenario.name): \(scenario.detail)")
        }
        let passed = counts.scenarios.filter { $0.outcome == "passed" }.count
        let failed = counts.scenarios.filter { $0.outcome == "FAILED" }.count
        let skipped = counts.scenarios.filter { $0.outcome == "skipped" }.count
        lines += [
            "",
            "scenarios run        \(counts.scenarios.count) (\(passed) passed, \(failed) failed, \(skipped) skipped)",
            "kills survived       \(counts.kills) SIGKILL, \(counts.gracefulStops) SIGTERM",
            "faults injected      \(counts.faultsInjected)",
            "bad inputs tried     \(counts.badInputs)",
            "changes checked      \(counts.changesChecked)",
            "changes lost         \(counts.changesLost)",
            "duplicates           \(counts.duplicates)",
            "partial files        \(counts.partialFiles)",
            "corrupt tarballs     \(counts.badTarballs)",
            "files outside store  \(counts.filesOutside)",
            "secrets leaked       \(counts.secretLeaks)",
            "reliability: \(passed) passed, \(failed) failed, \(skipped) skipped",
        ]
        return lines.joined(separator: "\n")
    }
}
