import Foundation
import MirrorTestSupport
import Testing

private let chaosExecutable = builtExecutable("npm-mirror-chaos")

/// The reliability suite (`npm-mirror-chaos`, docs/reliability.md) on every CI run: 20 SIGKILLs of
/// the consumer over a few hundred changes, producer kills, SIGTERMs, Kafka, registry, CouchDB and
/// disk faults, hostile input and the secrets check, each followed by an audit.
@Suite("Reliability suite", .timeLimit(.minutes(40)))
struct ReliabilitySuiteTests {
    @Test("every scenario passes its audit: nothing lost, nothing duplicated, nothing outside the store, no secret leaked")
    func everyScenario() async throws {
        let work = NSTemporaryDirectory() + "npm-mirror-chaos-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: work) }
        let (status, output) = try await runProgram(chaosExecutable, ["--kills", "20", "--packages", "200", "--work-directory", work])
        print(output)
        #expect(status == 0, "the reliability suite failed:\n\(output)")
        let figures = Dictionary(uniqueKeysWithValues: output.split(separator: "\n").compactMap { line -> (String, Int)? in
            let parts = line.split(separator: " ", omittingEmptySubsequences: true)
            guard parts.count >= 2, let value = Int(parts.last!) else { return nil }
            return (parts.dropLast().joined(separator: " "), value)
        })
        #expect(figures["changes lost"] == 0)
        #expect(figures["duplicates"] == 0)
        #expect(figures["files outside store"] == 0)
        #expect(figures["secrets leaked"] == 0)
        #expect((figures["changes checked"] ?? 0) >= 200)
        #expect(output.contains("reliability: "))
        #expect(!output.contains("FAILED"))
        let kills = output.split(separator: "\n").first { $0.hasPrefix("kills survived") }
            .flatMap { $0.split(separator: " ").compactMap { Int($0) }.first } ?? 0
        #expect(kills >= 20 + 6, "20 consumer kills and the producer's")
    }
}
