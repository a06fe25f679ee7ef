import AsyncHTTPClient
import Foundation
import MirrorTestSupport
import NPMRegistry
import Prometheus
import RegistrySimulator
import Testing

private func replicateClient(_ sim: RegistrySimulator) -> ReplicateClient {
    ReplicateClient(
        baseURL: sim.replicateURL,
        http: RegistryHTTP(client: .shared, timeout: .seconds(10), metrics: PrometheusMetricsFactory(registry: PrometheusCollectorRegistry()))
    )
}

@Suite("_all_docs pages: parsing")
struct AllDocsPageTests {
    private static func body(_ ids: [String], total: Int = 100) -> [UInt8] {
        let rows = ids.map { #"{"id":"\#($0)","key":"\#($0)","value":{"rev":"1-\#($0.count)"}}"# }
        return Array(#"{"total_rows":\#(total),"offset":3,"rows":[\#(rows.joined(separator: ",\r\n"))]}"#.utf8)
    }

    @Test("the repeated start row is dropped, _design/ rows are counted and left out, last is the page's last row")
    func fullPage() throws {
        let page = try AllDocsPage.parse(Self.body(["a", "_design/app", "b", "c"]), startAfter: "a", limit: 3)
        #expect(page.rows == [AllDocsRow(id: "b", rev: "1-1"), AllDocsRow(id: "c", rev: "1-1")])
        #expect(page.designRowsSkipped == 1 && page.totalRows == 100 && page.last == "c")

        let first = try AllDocsPage.parse(Self.body(["a", "b", "_design/app"]), startAfter: nil, limit: 3)
        #expect(first.rows.map(\.id) == ["a", "b"] && first.last == "_design/app", "the next page starts after the design row")
    }

    @Test("a short page is the last; a start row that is gone drops nothing but the rows beyond the limit")
    func edges() throws {
        let short = try AllDocsPage.parse(Self.body(["m", "n"]), startAfter: "m", limit: 3)
        #expect(short.rows.map(\.id) == ["n"] && short.last == nil)
        let empty = try AllDocsPage.parse(Self.body([]), startAfter: "z", limit: 3)
        #expect(empty.rows.isEmpty && empty.last == nil)
        let moved = try AllDocsPage.parse(Self.body(["b", "c", "d", "e"]), startAfter: "a", limit: 3)
        #expect(moved.rows.map(\.id) == ["b", "c", "d"] && moved.last == "d")
        let noTotal = try AllDocsPage.parse(Array(#"{"rows":[]}"#.utf8), startAfter: nil, limit: 1)
        #expect(noTotal.totalRows == nil && noTotal.last == nil)
    }

    @Test(
        "a body that is not an _all_docs page is an error",
        arguments: [
            "", "not json", "[]", #"{"total_rows":1}"#, #"{"rows":{}}"#, #"{"rows":[1]}"#, #"{"rows":[{"id":"a"}]}"#,
            #"{"rows":[{"id":"a","value":{"rev":3}}]}"#, #"{"rows":[{"value":{"rev":"1-a"}}]}"#, #"{"rows":[{"id":"a","value":{"rev":"1-a"}},"#,
        ]
    )
    func malformed(body: String) {
        #expect(throws: PageParseError.self) { try AllDocsPage.parse(Array(body.utf8), startAfter: nil, limit: 5) }
    }
}

@Suite("Replicate client: _all_docs against the simulator", .timeLimit(.minutes(2)))
struct AllDocsClientTests {
    @Test("pages of 7 over 100 packages reach the end with every package once, in order, _design/ rows skipped")
    func paging() async throws {
        try await withSimulator(packages: 100) { sim in
            let client = replicateClient(sim)
            var ids: [String] = []
            var revs: [String: String] = [:]
            var designRows = 0
            var pages = 0
            var startAfter: String?
            repeat {
                let page = try await client.allDocs(startAfter: startAfter, limit: 7)
                pages += 1
                #expect(page.rows.count + page.designRowsSkipped <= 7)
                #expect(page.totalRows == Int64(sim.docCount + sim.designDocumentIDs.count))
                #expect(page.rows.allSatisfy { !$0.id.hasPrefix("_design/") })
                ids += page.rows.map(\.id)
                for row in page.rows { revs[row.id] = row.rev }
                designRows += page.designRowsSkipped
                startAfter = page.last
                #expect(pages < 100, "paging ends")
            } while startAfter != nil && pages < 100

            let changes = try await client.changes(since: 0, limit: 10_000)
            let live = Set(changes.changes.filter { !$0.deleted }.map(\.id))
            #expect(ids.count == live.count && Set(ids) == live, "every package exactly once")
            #expect(ids == ids.sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }, "in the registry's order")
            #expect(designRows == sim.designDocumentIDs.count)
            #expect(revs.allSatisfy { sim.currentRev(of: $0.key) == $0.value })
            #expect(pages == (live.count + sim.designDocumentIDs.count) / 7 + 1)

            let requests = sim.recentRequests().filter { $0.kind == "all-docs" }
            #expect(requests.count == pages)
            #expect(requests.first?.uri == "/registry/_all_docs?limit=7")
            #expect(requests.dropFirst().allSatisfy { $0.uri.hasPrefix("/registry/_all_docs?limit=8&startkey=%22") && $0.status == 200 })
        }
    }

    @Test("startAfter a scoped name goes out as startkey=%22%40scope%2Fname%22 and the page continues after it")
    func scopedStart() async throws {
        try await withSimulator(packages: 40) { sim in
            let client = replicateClient(sim)
            let scoped = try #require(sim.notablePackages.scoped.first)
            let page = try await client.allDocs(startAfter: scoped, limit: 3)
            let expected = "startkey=%22" + scoped.replacingOccurrences(of: "@", with: "%40").replacingOccurrences(of: "/", with: "%2F") + "%22"
            #expect(sim.recentRequests().last?.uri == "/registry/_all_docs?limit=4&" + expected)
            let everything = try await client.allDocs(startAfter: nil, limit: 1000)
            let all = everything.rows.map(\.id)
            let index = try #require(all.firstIndex(of: scoped))
            #expect(!page.rows.isEmpty && page.rows.first?.id != scoped)
            // Design rows may share the page, so it may hold fewer than three packages.
            #expect(page.rows.map(\.id) == Array(all[(index + 1)...].prefix(page.rows.count)))
            #expect(everything.last == nil)
        }
    }

    @Test("a fault on the all-docs target makes the client throw a retriable RegistryError")
    func faults() async throws {
        try await withSimulator(packages: 20) { sim in
            let client = replicateClient(sim)
            sim.faults.add([
                try FaultRule(spec: "http-error@all-docs,status=503,count=1"),
                try FaultRule(spec: "malformed-json@all-docs,count=1"),
            ])
            for expected in [RegistryError.Code.serverError, .malformedJSON] {
                do {
                    _ = try await client.allDocs(startAfter: nil, limit: 5)
                    Issue.record("expected \(expected)")
                } catch let error as RegistryError {
                    #expect(error.code == expected && error.isRetriable, "\(error)")
                }
            }
            #expect(sim.faults.firedCounts["http-error"] == 1 && sim.faults.firedCounts["malformed-json"] == 1)
            let page = try await client.allDocs(startAfter: nil, limit: 5)
            #expect(page.rows.count + page.designRowsSkipped == 5 && page.last != nil)
        }
    }
}
