import Foundation
import NIOCore
import NIOHTTP1
import RegistrySimulator
import Testing

/// Byte order of the UTF-8 forms: the order `_all_docs` promises.
private func inByteOrder(_ a: String, _ b: String) -> Bool {
    a.utf8.lexicographicallyPrecedes(b.utf8)
}

/// A JSON string as a query value: `"@scope/name"` → `%22%40scope%2Fname%22`.
private func jsonKey(_ id: String) -> String {
    "%22" + (id.addingPercentEncoding(withAllowedCharacters: CharacterSet(charactersIn: "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~")) ?? id) + "%22"
}

private struct AllDocs {
    var totalRows: Int
    var offset: Int
    var rows: [(id: String, rev: String)]
    var ids: [String] { self.rows.map(\.id) }

    static func get(_ sim: RegistrySimulator, _ query: String = "") async throws -> AllDocs {
        let response = try await HTTP.get(sim.replicateURL + "/registry/_all_docs" + (query.isEmpty ? "" : "?" + query))
        #expect(response.status == 200, "\(query): \(response.text.prefix(200))")
        let page = try response.json()
        #expect(Set(page.keys) == ["total_rows", "offset", "rows"])
        var rows: [(id: String, rev: String)] = []
        for row in try #require(page["rows"] as? [[String: Any]]) {
            #expect(Set(row.keys) == ["id", "key", "value"])
            let id = try #require(row["id"] as? String)
            #expect(row["key"] as? String == id)
            let value = try #require(row["value"] as? [String: Any])
            #expect(Set(value.keys) == ["rev"])
            rows.append((id, try #require(value["rev"] as? String)))
        }
        return AllDocs(totalRows: try #require(page["total_rows"] as? Int), offset: try #require(page["offset"] as? Int), rows: rows)
    }
}

/// The feed's view: every document once, with its rev and whether it is deleted.
private func feed(_ sim: RegistrySimulator) async throws -> [String: (rev: String?, deleted: Bool)] {
    let page = try await HTTP.get(sim.replicateURL + "/registry/_changes?since=0&limit=10000").json()
    var documents: [String: (rev: String?, deleted: Bool)] = [:]
    for entry in try #require(page["results"] as? [[String: Any]]) {
        let id = try #require(entry["id"] as? String)
        documents[id] = ((entry["changes"] as? [[String: Any]])?.first?["rev"] as? String, entry["deleted"] as? Bool == true)
    }
    return documents
}

private func packumentPath(_ name: String) -> String {
    "/" + name.replacingOccurrences(of: "/", with: "%2F")
}

@Suite("Replicate service: _all_docs")
struct AllDocsTests {
    @Test("every live document once, in byte order, with the packument's _rev; deleted ones absent, _design/ ones present")
    func listing() async throws {
        try await withSimulator(packages: 20) { sim in
            let all = try await AllDocs.get(sim)
            let documents = try await feed(sim)
            let live = Set(documents.filter { !$0.value.deleted }.keys)
            #expect(!sim.notablePackages.deleted.isEmpty && !sim.notablePackages.unpublished.isEmpty)

            #expect(all.offset == 0)
            #expect(all.totalRows == all.rows.count)
            #expect(all.totalRows == sim.docCount + sim.designDocumentIDs.count, "doc_count leaves the design documents out")
            #expect(all.ids == all.ids.sorted(by: inByteOrder) && Set(all.ids).count == all.ids.count)
            #expect(Set(all.ids) == live.union(sim.designDocumentIDs))
            for deleted in sim.notablePackages.deleted { #expect(!all.ids.contains(deleted), "\(deleted) is deleted") }
            for unpublished in sim.notablePackages.unpublished { #expect(all.ids.contains(unpublished), "an unpublished stub is a live document") }

            for row in all.rows {
                #expect(row.rev.wholeMatch(of: /[0-9]+-[0-9a-f]{32}/) != nil, "\(row.id): \(row.rev)")
                if row.id.hasPrefix("_design/") { continue }
                #expect(row.rev == sim.currentRev(of: row.id) && row.rev == documents[row.id]?.rev, "\(row.id)")
                let packument = try await HTTP.get(sim.registryURL + packumentPath(row.id)).json()
                #expect(packument["_rev"] as? String == row.rev, "\(row.id)")
            }
            #expect(sim.designDocumentIDs.allSatisfy { $0.hasPrefix("_design/") } && !sim.designDocumentIDs.isEmpty)
        }
    }

    @Test("startkey, endkey, inclusive_end, limit, skip and key select a window; offset counts the rows before its start")
    func windows() async throws {
        try await withSimulator(packages: 30) { sim in
            let all = try await AllDocs.get(sim).ids
            let (start, end) = (all[5], all[12])

            let range = try await AllDocs.get(sim, "startkey=\(jsonKey(start))&endkey=\(jsonKey(end))")
            #expect(range.ids == Array(all[5...12]) && range.offset == 5 && range.totalRows == all.count)
            let spelled = try await AllDocs.get(sim, "start_key=\(jsonKey(start))&end_key=\(jsonKey(end))")
            #expect(spelled.ids == range.ids && spelled.offset == 5)
            let exclusive = try await AllDocs.get(sim, "startkey=\(jsonKey(start))&endkey=\(jsonKey(end))&inclusive_end=false")
            #expect(exclusive.ids == Array(all[5..<12]))
            let limited = try await AllDocs.get(sim, "startkey=\(jsonKey(start))&limit=3")
            #expect(limited.ids == Array(all[5..<8]) && limited.offset == 5)
            let skipped = try await AllDocs.get(sim, "startkey=\(jsonKey(start))&skip=2&limit=3")
            #expect(skipped.ids == Array(all[7..<10]) && skipped.offset == 5, "CouchDB's offset is where the range starts, before skip")
            let key = try await AllDocs.get(sim, "key=\(jsonKey(start))")
            #expect(key.ids == [start] && key.offset == 5)
            let endOnly = try await AllDocs.get(sim, "endkey=\(jsonKey(all[2]))")
            #expect(endOnly.ids == Array(all[0...2]))

            // Between two ids: the range starts at the next one ("!" sorts below every character a name may hold).
            let between = try await AllDocs.get(sim, "startkey=\(jsonKey(all[5] + "!"))&limit=1")
            #expect(between.ids == [all[6]] && between.offset == 6)
            let past = try await AllDocs.get(sim, "startkey=\(jsonKey("\u{7F}"))")
            #expect(past.ids.isEmpty && past.offset == all.count)
            let none = try await AllDocs.get(sim, "limit=0")
            #expect(none.ids.isEmpty && none.totalRows == all.count)
            // Keys that are not strings collate below (null, booleans, numbers) or above (arrays, objects) every id.
            #expect(try await AllDocs.get(sim, "startkey=1&endkey=%5B%5D").ids == all)
            #expect(try await AllDocs.get(sim, "startkey=null&endkey=false").ids.isEmpty)
        }
    }

    @Test("a scoped name as a key is a JSON string, percent-encoded: %22%40scope%2Fname%22")
    func scopedKeys() async throws {
        try await withSimulator(packages: 20) { sim in
            let scoped = try #require(sim.notablePackages.scoped.first)
            let encoded = jsonKey(scoped)
            #expect(encoded.hasPrefix("%22%40") && encoded.contains("%2F"))
            let all = try await AllDocs.get(sim).ids
            let index = try #require(all.firstIndex(of: scoped))
            let page = try await AllDocs.get(sim, "startkey=\(encoded)&limit=2")
            #expect(page.ids == Array(all[index..<min(index + 2, all.count)]) && page.offset == index)
            #expect(try await AllDocs.get(sim, "key=\(encoded)").ids == [scoped])
        }
    }

    @Test(
        "bad parameters are 400 with CouchDB's error; include_docs is refused like the registry's _changes refuses it",
        arguments: [
            ("startkey=abc", "bad_request"), ("endkey=%22open", "bad_request"), ("key=%7B", "bad_request"),
            ("limit=-1", "query_parse_error"), ("limit=x", "query_parse_error"), ("limit=1.5", "query_parse_error"),
            ("skip=-2", "query_parse_error"), ("inclusive_end=maybe", "query_parse_error"),
            ("startkey=%22b%22&endkey=%22a%22", "query_parse_error"),
            ("include_docs=true", "bad_request"), ("include_docs=false", "bad_request"),
            ("descending=true", "bad_request"), ("keys=%5B%5D", "bad_request"),
        ]
    )
    func badRequests(_ query: String, _ error: String) async throws {
        try await withSimulator(packages: 5) { sim in
            let response = try await HTTP.get(sim.replicateURL + "/registry/_all_docs?" + query)
            #expect(response.status == 400)
            let body = try response.json()
            #expect(Set(body.keys) == ["error", "reason"])
            #expect(body["error"] as? String == error, "\(query): \(body)")
            let reason = try #require(body["reason"] as? String)
            if query.hasPrefix("include_docs") { #expect(reason.contains("include_docs")) }
            if query.hasPrefix("startkey=abc") { #expect(reason == "invalid UTF-8 JSON") }
            if query == "limit=-1" { #expect(reason == #"Invalid value for positive integer: "-1""#) }
        }
    }

    @Test("parameters CouchDB accepts are accepted: descending=false, booleans in any case, unknown ones ignored")
    func acceptedParameters() async throws {
        try await withSimulator(packages: 5) { sim in
            for query in ["descending=false", "inclusive_end=TRUE", "update_seq=true", "limit=%2B2"] {
                let response = try await HTTP.get(sim.replicateURL + "/registry/_all_docs?" + query)
                #expect(response.status == 200, "\(query)")
            }
        }
    }

    @Test("the listing follows announced publishes and deletions after it was first read")
    func followsChanges() async throws {
        try await withSimulator(packages: 20) { sim in
            let before = try await AllDocs.get(sim)
            let name = try #require(sim.notablePackages.ordinary.first)
            let created = try #require(try sim.publish(.newPackage(named: "aaa-fresh")))
            let updated = try #require(try sim.publish(.newVersion(of: name)))
            let doomed = try #require(sim.notablePackages.ordinary.last)
            _ = try #require(try sim.publish(.deletion(of: doomed)))

            let after = try await AllDocs.get(sim)
            #expect(after.totalRows == before.totalRows)
            #expect(after.ids == after.ids.sorted(by: inByteOrder))
            #expect(after.rows.first { $0.id == "aaa-fresh" }?.rev == created.rev)
            #expect(after.rows.first { $0.id == name }?.rev == updated.rev)
            #expect(!after.ids.contains(doomed))
            #expect(Set(after.ids) == Set(before.ids).subtracting([doomed]).union(["aaa-fresh"]))
        }
    }

    @Test("a fault rule on all-docs fires on _all_docs and nothing else; rules name the target in JSON and specs")
    func faults() async throws {
        #expect(FaultTarget.all.contains(.allDocs) && FaultTarget.allDocs.rawValue == "all-docs")
        let spec = try FaultRule(spec: "http-error@all-docs,status=503,count=1")
        #expect(spec.targets == [.allDocs])
        let encoded = try JSONEncoder().encode(spec)
        #expect(String(decoding: encoded, as: UTF8.self).contains(#""targets":["all-docs"]"#))
        #expect(try JSONDecoder().decode(FaultRule.self, from: encoded) == spec)

        try await withSimulator(packages: 10) { sim in
            sim.faults.add(spec)
            #expect(try await HTTP.get(sim.replicateURL + "/registry/_changes").status == 200)
            #expect(try await HTTP.get(sim.replicateURL + "/").status == 200)
            #expect(try await HTTP.get(sim.replicateURL + "/registry/_all_docs").status == 503)
            #expect(try await HTTP.get(sim.replicateURL + "/registry/_all_docs").status == 200, "count=1: fired once")

            let added = try await HTTP.send(.POST, sim.replicateURL + "/-/admin/faults", json: #"{"kind":"rate-limited","target":"all-docs","count":1}"#)
            #expect(added.status == 200)
            let rules = try #require(try added.json()["rules"] as? [[String: Any]])
            #expect(rules.first?["targets"] as? [String] == ["all-docs"])
            #expect(try await HTTP.get(sim.replicateURL + "/registry/_all_docs?limit=1").status == 429)
            #expect(sim.requestCounts.count(kind: .allDocs) == 3 && sim.requestCounts.count(path: "/registry/_all_docs") == 3)
            #expect(sim.recentRequests().last?.kind == "all-docs")
        }
    }
}

@Suite("Changes the feed never announces")
struct UnannouncedChangeTests {
    @Test("an unannounced new version and new package: packument, tarball and _all_docs carry them, _changes and update_seq do not move")
    func unannouncedPublish() async throws {
        try await withSimulator(packages: 20) { sim in
            let name = try #require(sim.notablePackages.ordinary.first)
            let head = sim.updateSeq
            let docs = sim.docCount
            let feedBefore = try await feed(sim)

            let change = try #require(try sim.publishUnannounced(.newVersion(of: name)))
            #expect(change.name == name && change.kind == "new-version" && !change.deleted)
            #expect(change.rev != feedBefore[name]?.rev && sim.currentRev(of: name) == change.rev)
            let version = try #require(change.version)
            let packument = try await HTTP.get(sim.registryURL + packumentPath(name)).json()
            #expect(packument["_rev"] as? String == change.rev)
            let tarballURL = try #require(((packument["versions"] as? [String: Any])?[version] as? [String: Any]).flatMap { ($0["dist"] as? [String: Any])?["tarball"] as? String })
            #expect(try await HTTP.get(tarballURL).status == 200)

            let created = try #require(try sim.publishUnannounced(.newPackage(named: "quietly-there")))
            #expect(created.kind == "new-package" && created.rev.hasPrefix("1-"))
            #expect(try await HTTP.get(sim.registryURL + "/quietly-there").status == 200)
            #expect(sim.docCount == docs + 1)

            let all = try await AllDocs.get(sim)
            #expect(all.rows.first { $0.id == name }?.rev == change.rev)
            #expect(all.rows.first { $0.id == "quietly-there" }?.rev == created.rev)

            #expect(sim.updateSeq == head)
            let feedAfter = try await feed(sim)
            #expect(feedAfter.count == feedBefore.count && feedAfter["quietly-there"] == nil)
            #expect(feedAfter[name]?.rev == feedBefore[name]?.rev, "the feed still announces the previous rev")
            #expect(try sim.publishUnannounced(.newPackage(named: "_design/sneaky")) == nil, "ids starting with _ are CouchDB's")
        }
    }

    @Test("an unannounced deletion: gone from _all_docs, packument 404, no change in the feed")
    func unannouncedDeletion() async throws {
        try await withSimulator(packages: 20) { sim in
            let name = try #require(sim.notablePackages.ordinary.last)
            let head = sim.updateSeq
            let docs = sim.docCount
            let feedBefore = try await feed(sim)
            _ = try await AllDocs.get(sim)  // the listing exists before the deletion

            let deletion = try #require(try sim.deleteUnannounced(name))
            #expect(deletion.deleted && deletion.kind == "deletion" && deletion.name == name)
            #expect(try await HTTP.get(sim.registryURL + packumentPath(name)).status == 404)
            #expect(!(try await AllDocs.get(sim).ids.contains(name)))
            #expect(sim.docCount == docs - 1 && sim.updateSeq == head)
            let feedAfter = try await feed(sim)
            #expect(feedAfter[name]?.deleted == false && feedAfter[name]?.rev == feedBefore[name]?.rev)
            #expect(try sim.deleteUnannounced(name) == nil, "nothing left to delete")
        }
    }

    @Test("admin endpoints: publish-unannounced and delete-unannounced")
    func overHTTP() async throws {
        try await withSimulator(packages: 20) { sim in
            let head = sim.updateSeq
            let name = try #require(sim.notablePackages.ordinary.first)
            let published = try await HTTP.send(.POST, sim.replicateURL + "/-/admin/publish-unannounced", json: #"{"kind":"new-version","name":"\#(name)"}"#)
            #expect(published.status == 200)
            let body = try published.json()
            let change = try #require(body["change"] as? [String: Any])
            #expect(change["name"] as? String == name && change["kind"] as? String == "new-version")
            #expect(change["rev"] as? String == sim.currentRev(of: name) && body["update_seq"] as? Int == head)

            let fresh = try await HTTP.send(.POST, sim.registryURL + "/-/admin/publish-unannounced", json: #"{"kind":"new-package","name":"admin-quiet"}"#)
            #expect(fresh.status == 200 && sim.currentRev(of: "admin-quiet") != nil)
            let random = try await HTTP.send(.POST, sim.registryURL + "/-/admin/publish-unannounced")
            #expect(random.status == 200, "no body: a new version of a random package")

            let deleted = try await HTTP.send(.POST, sim.replicateURL + "/-/admin/delete-unannounced", json: #"{"name":"admin-quiet"}"#)
            #expect(deleted.status == 200)
            let deletion = try #require(try deleted.json()["change"] as? [String: Any])
            #expect(deletion["deleted"] as? Bool == true)
            #expect(try await HTTP.get(sim.registryURL + "/admin-quiet").status == 404)
            #expect(sim.updateSeq == head)

            #expect(try await HTTP.send(.POST, sim.replicateURL + "/-/admin/delete-unannounced", json: #"{"name":"admin-quiet"}"#).status == 409)
            #expect(try await HTTP.send(.POST, sim.replicateURL + "/-/admin/delete-unannounced", json: "{}").status == 400)
            #expect(try await HTTP.send(.POST, sim.replicateURL + "/-/admin/publish-unannounced", json: #"{"kind":"gremlins"}"#).status == 400)
            #expect(try await HTTP.send(.POST, sim.replicateURL + "/-/admin/publish-unannounced", json: "{").status == 400)
        }
    }
}
