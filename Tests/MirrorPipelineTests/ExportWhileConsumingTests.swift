import CouchDBDouble
import Foundation
import MirrorExport
import MirrorRecords
import MirrorStore
import MirrorTestSupport
import RegistrySimulator
import Testing

/// `npm-mirror export` over CouchDB records while a consumer is writing new revisions of the same
/// packages: every package's rows must come from the one revision its `packages` row names.
@Suite("npm-mirror export while a consumer writes", .timeLimit(.minutes(5)))
struct ExportWhileConsumingTests {
    @Test("each package's version and dependency rows are exactly those of the packument revision its packages row names; the manifest's seqs are the rows'")
    func consistentPerPackage() async throws {
        try await withSimulator(packages: 30) { simulator in
            try await withConsumerHarness(simulator: simulator) { harness in
                try await harness.produceFeed()
                try await harness.consumeAll()
                // New revisions of eight packages, announced: the next consumer run writes them.
                let hot = Array(simulator.notablePackages.ordinary.prefix(8))
                for _ in 0..<2 { for name in hot { _ = try simulator.publish(.newVersion(of: name)) } }
                try await harness.produceFeed()

                // The export reads one record per page, slowly, while the consumer writes.
                harness.couch.setDelay(.milliseconds(15))
                var options = MirrorExport.Options(directory: try temporaryDirectory() + "/export")
                options.pageSize = 1
                let export = MirrorExport(records: try harness.records, store: try harness.store, options: options, logger: testLogger)
                async let consumed: Void = harness.consumeAll()
                let manifest = try await export.run()
                try await consumed
                harness.couch.setDelay(nil)

                let sqlite = options.directory + "/npm-mirror.sqlite"
                let rows = try await query(sqlite, "SELECT name, packument_rev, state, last_seq FROM packages")
                let versions = Dictionary(grouping: try await query(sqlite, "SELECT name, version FROM versions")) { $0[0] }.mapValues { Set($0.map { $0[1] }) }
                let dependencies = Dictionary(grouping: try await query(sqlite, "SELECT name, version FROM dependencies")) { $0[0] }.mapValues(\.count)
                let store = try harness.store
                var checked = 0
                var seqs: [Int64] = []
                for row in rows {
                    if let seq = Int64(row[3]) { seqs.append(seq) }
                    guard row[2] == "normal" || row[2] == "security_holder",
                        let bytes = try store.readPackument(name: row[0], revision: row[1]),
                        let packument = try JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any]
                    else { continue }  // a revision pruned since the export (the store keeps three)
                    let manifests = packument["versions"] as? [String: [String: Any]] ?? [:]
                    #expect(versions[row[0], default: []] == Set(manifests.keys), "\(row[0]): versions not those of revision \(row[1])")
                    let expected = manifests.values.reduce(0) { sum, manifest in
                        sum + ["dependencies", "devDependencies", "peerDependencies", "optionalDependencies"].reduce(0) { $0 + ((manifest[$1] as? [String: Any])?.count ?? 0) }
                            + ((manifest["bundleDependencies"] as? [String])?.count ?? 0)
                    }
                    #expect(dependencies[row[0], default: 0] == expected, "\(row[0]): dependencies not those of revision \(row[1])")
                    checked += 1
                }
                #expect(checked >= 20, "only \(checked) packages could be checked against their revision")
                #expect(manifest.packageSeqs?.first == seqs.min() && manifest.packageSeqs?.last == seqs.max())
                #expect(manifest.rows(of: .packages) == rows.count)
            }
        }
    }

    /// Rows of a query, as text, by Python's sqlite3 (an independent reader).
    func query(_ database: String, _ sql: String) async throws -> [[String]] {
        let script = "import json, sqlite3, sys\nprint(json.dumps([[('' if v is None else str(v)) for v in r] for r in sqlite3.connect(sys.argv[1]).execute(sys.argv[2])]))"
        let result = try await runProgram(URL(fileURLWithPath: "/usr/bin/env"), ["python3", "-c", script, database, sql])
        try #require(result.status == 0, "\(result.output)")
        return try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [[String]])
    }
}
