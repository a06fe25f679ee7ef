import Foundation
import MirrorJSON
import MirrorServe
import MirrorTestSupport
import Testing

/// `SERVE_MIN_AGE`: what serve leaves out, and when it stops leaving it out.
@Suite("Serve's release cooldown (SERVE_MIN_AGE)")
struct CooldownTests {
    /// `cool`: 1.0.0 (2020), 1.1.0 (2021) and 2.0.0 (published `newAge` seconds ago, `latest`), all held.
    private static func store(newAge: Int) throws -> TestStore {
        let store = try TestStore()
        let recent = Date(timeIntervalSinceNow: -TimeInterval(newAge)).formatted(.iso8601)
        let packument = """
            {"_id":"cool","_rev":"3-c","name":"cool","dist-tags":{"latest":"2.0.0","next":"2.0.0","old":"1.0.0"},
            "time":{"created":"2020-01-01T00:00:00.000Z","modified":"\(recent)","1.0.0":"2020-01-01T00:00:00.000Z","1.1.0":"2021-01-01T00:00:00.000Z","2.0.0":"\(recent)"},
            "versions":{
            "1.0.0":{"name":"cool","version":"1.0.0","dist":{"shasum":"a","tarball":"https://registry.npmjs.org/cool/-/cool-1.0.0.tgz"}},
            "1.1.0":{"name":"cool","version":"1.1.0","dist":{"shasum":"b","tarball":"https://registry.npmjs.org/cool/-/cool-1.1.0.tgz"}},
            "2.0.0":{"name":"cool","version":"2.0.0","dist":{"shasum":"c","tarball":"https://registry.npmjs.org/cool/-/cool-2.0.0.tgz"}}}}
            """
        try store.packument("cool", rev: "3-c", Array(packument.utf8))
        for version in ["1.0.0", "1.1.0", "2.0.0"] { try store.tarball("cool", version, Array("tarball \(version)".utf8)) }
        return store
    }

    @Test("a version younger than the minimum age is left out, its tags move, its tarball is 404, and a header says so")
    func heldBack() async throws {
        let store = try Self.store(newAge: 3600)
        try await withServer(store: store, { $0.minimumAge = .seconds(7 * 86_400) }) { server in
            for accept in ["application/json", "application/vnd.npm.install-v1+json"] {
                let response = try await server.get("/cool", [("Accept", accept)])
                #expect(response.status == 200)
                let document = try response.json()
                #expect(document["versions"]?.objectValue.map { Set($0.keys) } == ["1.0.0", "1.1.0"])
                #expect(document["dist-tags"]?["latest"] == "1.1.0")
                #expect(document["dist-tags"]?["next"] == "1.1.0")
                #expect(document["dist-tags"]?["old"] == "1.0.0")
                #expect(document["time"]?["2.0.0"] == nil)
                let header = try #require(response.header("Mirror-Cooldown"))
                #expect(header.hasPrefix("min-age=604800; held-back=1; until="))
            }
            #expect(try await server.get("/cool/2.0.0").status == 404)
            #expect(try await server.get("/cool/latest").json()["version"] == "1.1.0")
            let tarball = try await server.get("/cool/-/cool-2.0.0.tgz")
            #expect(tarball.status == 404)
            #expect(String(decoding: tarball.body, as: UTF8.self).contains("SERVE_MIN_AGE"))
            #expect(try await server.get("/cool/-/cool-1.1.0.tgz").status == 200)
        }
        // Without the setting everything held is served, with no header.
        try await withServer(store: store) { server in
            let response = try await server.get("/cool")
            #expect(try response.json()["dist-tags"]?["latest"] == "2.0.0")
            #expect(response.header("Mirror-Cooldown") == nil)
            #expect(try await server.get("/cool/-/cool-2.0.0.tgz").status == 200)
        }
    }

    @Test("a held-back version is served once it comes of age, with no new revision")
    func comesOfAge() async throws {
        // Published a week less 15 seconds ago: held back for 15 more seconds (room for a loaded
        // machine to start the server), then waited out to the time the header names.
        let store = try Self.store(newAge: 7 * 86_400 - 15)
        try await withServer(store: store, { $0.minimumAge = .seconds(7 * 86_400) }) { server in
            let before = try await server.get("/cool")
            #expect(try before.json()["dist-tags"]?["latest"] == "1.1.0")
            let etag = before.header("ETag")
            let header = try #require(before.header("Mirror-Cooldown"))
            let until = try #require(header.components(separatedBy: "until=").last.flatMap { try? Date($0, strategy: .iso8601) })
            try await Task.sleep(for: .seconds(max(0, until.timeIntervalSinceNow) + 1.5))
            let after = try await server.get("/cool")
            #expect(try after.json()["dist-tags"]?["latest"] == "2.0.0")
            #expect(after.header("Mirror-Cooldown")?.hasPrefix("min-age=604800; held-back=0") == true)
            #expect(after.header("ETag") != etag)
            #expect(try await server.get("/cool/-/cool-2.0.0.tgz").status == 200)
        }
    }
}
