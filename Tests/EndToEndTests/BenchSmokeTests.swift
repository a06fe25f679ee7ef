import Foundation
import MirrorTestSupport
import Testing

private let benchExecutable = builtExecutable("npm-mirror-bench")

/// The benchmark's smoke variant, so the command never rots. It checks that the command runs the
/// real binaries end to end and that its figures agree with each other, never how fast anything is:
/// timings on a shared CI machine prove nothing.
@Suite("Benchmark smoke run", .timeLimit(.minutes(15)))
struct BenchSmokeTests {
    @Test("the smoke variant runs every stage and reports consistent figures")
    func smokeVariant() async throws {
        let work = NSTemporaryDirectory() + "npm-mirror-bench-\(UUID().uuidString)"
        defer { try? FileManager.default.removeItem(atPath: work) }
        let jsonPath = work + "-results.json"
        defer { try? FileManager.default.removeItem(atPath: jsonPath) }

        let (status, output) = try await runProgram(benchExecutable, ["--variants", "smoke", "--json", jsonPath, "--work-directory", work, "--concurrency", "4"])
        #expect(status == 0, "npm-mirror-bench failed:\n\(output)")
        #expect(output.contains("consumer ÷ curl"))
        #expect(output.contains("Targets:"))

        let results = try #require(JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: jsonPath))) as? [String: Any])
        let machine = try #require(results["machine"] as? [String: Any])
        #expect((machine["cores"] as? Int ?? 0) > 0)
        let variant = try #require((results["variants"] as? [[String: Any]])?.first)
        let workload = try #require(variant["workload"] as? [String: Any])
        let hugeTarball = try #require(workload["hugeTarballBytes"] as? Int)

        let producer = try #require(variant["producer"] as? [String: Any])
        #expect(producer["changes"] as? Int == workload["feedPackages"] as? Int)
        #expect(number(producer["changesPerSecond"]) > 0)
        #expect((1_000_000...4_000_000_000).contains(number(producer["peakRSSBytes"])))

        let endToEnd = try #require(variant["producerEndToEnd"] as? [String: Any])
        let changes = try #require(endToEnd["changes"] as? Int)
        #expect(changes >= workload["packages"] as? Int ?? .max)

        let consumer = try #require(variant["consumer"] as? [String: Any])
        #expect(consumer["changes"] as? Int == changes)
        #expect(consumer["deadLettered"] as? Int == 0)
        #expect((consumer["tarballs"] as? Int ?? 0) > changes / 2)
        #expect(number(consumer["tarballBytes"]) > Double(hugeTarball))
        #expect(number(consumer["workingSeconds"]) > 0)
        #expect(number(consumer["workingSeconds"]) <= number(consumer["wallSeconds"]))
        let stages = try #require(consumer["stages"] as? [[String: Any]])
        #expect(Set(stages.compactMap { $0["stage"] as? String }).isSuperset(of: ["packument", "tarball", "store", "record"]))
        #expect(abs(stages.reduce(0) { $0 + number($1["share"]) } - 1) < 0.01)

        let metadataOnly = try #require(variant["metadataOnly"] as? [String: Any])
        #expect(metadataOnly["changes"] as? Int == changes)
        #expect(metadataOnly["tarballs"] as? Int == 0)

        // npm-mirror export over the full run's store and records: a packages row per package record.
        let export = try #require(variant["export"] as? [String: Any], "the variant has an export stage")
        let exported = export["packages"] as? Int ?? 0
        #expect((1...changes).contains(exported), "\(exported) package rows for \(changes) changes")
        #expect((export["rows"] as? Int ?? 0) > exported * 2)
        #expect(number(export["rowsPerSecond"]) > 0 && number(export["peakRSSBytes"]) > 0)

        let curl = try #require(variant["curl"] as? [String: Any])
        // One URL per package still served and per kept tarball, the registry's keys, and the
        // attestations of the kept versions that have them (at most one per tarball); which ones,
        // exactly, the URL-set check below says.
        let beyondTarballs = (curl["urls"] as? Int ?? 0) - (changes - deletedCount(variant) + (consumer["tarballs"] as? Int ?? 0))
        #expect(beyondTarballs >= 1 && beyondTarballs <= 1 + (consumer["tarballs"] as? Int ?? 0), "keys and attestations: \(beyondTarballs)")
        #expect(number(curl["bytes"]) > number(consumer["tarballBytes"]))
        #expect(variant["urlSetDifference"] as? Int == 0, "curl must fetch exactly the URLs the consumer fetched")
        // curl's packument-only run fetches one URL per package still served: the metadata-only run's limit.
        let curlPackuments = try #require(variant["curlPackuments"] as? [String: Any])
        #expect(curlPackuments["urls"] as? Int == changes - deletedCount(variant))
        #expect(number(curlPackuments["bytes"]) == number(metadataOnly["packumentBytes"]))
        #expect(number(variant["metadataOnlyVsCurl"]) > 0)

        // npm-mirror verify over the full run's store: every tarball hashed, every signature verified.
        let verify = try #require(variant["verify"] as? [String: Any])
        #expect(verify["holds"] as? Bool == true, "the benchmark's store verifies: \(verify)")
        #expect(verify["tarballs"] as? Int == consumer["tarballs"] as? Int)
        #expect(number(verify["bytesHashed"]) == number(consumer["tarballBytes"]))
        #expect(number(verify["sha512SingleCoreMBPerSecond"]) > 0 && number(verify["shareOfFloor"]) > 0)

        // The floor of the work: over exactly the tarballs and packuments the runs stored.
        let cost = try #require(variant["cost"] as? [String: Any])
        let tarballFloor = try #require(cost["tarballFloor"] as? [String: Any])
        #expect(tarballFloor["tarballs"] as? Int == consumer["tarballs"] as? Int)
        #expect(number(tarballFloor["bytes"]) == number(consumer["tarballBytes"]))
        #expect(number(tarballFloor["digestCPUSeconds"]) > 0 && number(tarballFloor["archiveCPUSeconds"]) > 0)
        let metadataFloor = try #require(cost["metadataFloor"] as? [String: Any])
        #expect(metadataFloor["packuments"] as? Int == changes - deletedCount(variant))
        #expect(number(metadataFloor["gzipCPUSeconds"]) > 0 && number(metadataFloor["writeCPUSeconds"]) > 0)
        for key in ["metadataCPUMillisecondsPerPackage", "metadataFloorMillisecondsPerPackage", "metadataMultiple", "tarballFloorMillisecondsPerMB"] {
            #expect(number(cost[key]) > 0, "\(key): \(cost[key] ?? "missing")")
        }
        #expect(output.contains("consumer CPU, metadata") && output.contains("× floor"))
        #expect(number(consumer["machineCPUSeconds"]) > 0)

        let pair = try #require(variant["memoryPair"] as? [String: Any])
        #expect(number(pair["withPeakRSSBytes"]) > 0 && number(pair["withoutPeakRSSBytes"]) > 0)

        let targets = try #require(results["targets"] as? [[String: Any]])
        #expect(targets.count == 5)
        #expect(targets.allSatisfy { $0["met"] == nil }, "a smoke run judges no target")
    }
}

private func number(_ value: Any?) -> Double {
    (value as? NSNumber)?.doubleValue ?? -1
}

/// Changes whose packument is gone (deleted packages): the consumer asks once and gets a 404,
/// which curl's URL set leaves out.
private func deletedCount(_ variant: [String: Any]) -> Int {
    (variant["deletedPackages"] as? Int) ?? 0
}
