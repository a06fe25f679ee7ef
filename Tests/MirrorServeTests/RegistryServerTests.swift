import CouchDBDouble
import Foundation
import MirrorRecords
import MirrorServe
import MirrorStore
import MirrorTestSupport
import Testing

/// A store with foobar (the recorded packument and its two real tarballs), @scope/pkg (2.0.0 not
/// held) and the recorded unpublished package.
private func fixtureStore() throws -> TestStore {
    let store = try TestStore()
    try store.packument("foobar", rev: "110049-61bf33b897e6fc8ce29c16f6", try Fixtures.bytes("packument-foobar.json"))
    try store.tarball("foobar", "1.0.0", try Fixtures.bytes("foobar-1.0.0.tgz"))
    try store.tarball("foobar", "1.1.0", try Fixtures.bytes("foobar-1.1.0.tgz"))
    try store.packument("@scope/pkg", rev: "4-abc", Array(scopedPackument.utf8))
    for version in ["1.0.0", "1.1.0", "2.0.0-beta.1"] { try store.tarball("@scope/pkg", version, Array("tarball \(version)".utf8)) }
    try store.packument("babel-plugin-autocss", rev: "3-unpublished", try Fixtures.bytes("packument-unpublished.json"))
    return store
}

private let abbreviatedAccept = "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*"

@Suite("npm-mirror serve: endpoints and header rules", .timeLimit(.minutes(3)))
struct RegistryServerTests {
    @Test("GET /{name}: the full document, every held version, dist.tarball at the mirror and every other dist byte kept")
    func fullDocument() async throws {
        try await withServer(store: try fixtureStore()) { server in
            let response = try await server.get("/foobar")
            #expect(response.status == 200)
            #expect(response.header("Content-Type") == "application/json")
            #expect(response.header("Cache-Control") == "public, max-age=300")
            #expect(response.header("Vary") == "Accept, Accept-Encoding")
            #expect(response.header("Content-Encoding") == nil)
            #expect(response.header("ETag")?.hasPrefix("\"") == true)
            #expect(response.header("Last-Modified")?.hasSuffix(" GMT") == true)
            let served = try response.json()
            let recorded = try Fixtures.json("packument-foobar.json")
            #expect(served["name"] == "foobar")
            #expect(served["dist-tags"] == recorded["dist-tags"])
            #expect(served["time"] == recorded["time"])
            #expect(served["readme"] == recorded["readme"])
            #expect(served["_rev"] == recorded["_rev"])
            for version in ["1.0.0", "1.1.0"] {
                var expected = try #require(recorded["versions"]?[version]?.objectValue)
                var dist = try #require(expected["dist"]?.objectValue)
                dist["tarball"] = .string("http://127.0.0.1:\(server.port)/foobar/-/foobar-\(version).tgz")
                expected["dist"] = .object(dist)
                #expect(served["versions"]?[version] == .object(expected))
            }
        }
    }

    @Test("the abbreviated document matches the recorded one field by field")
    func abbreviatedMatchesRecording() async throws {
        try await withServer(store: try fixtureStore()) { server in
            let response = try await server.get("/foobar", [("Accept", abbreviatedAccept)])
            #expect(response.status == 200)
            #expect(response.header("Content-Type") == "application/vnd.npm.install-v1+json")
            let served = try response.json()
            let recorded = try Fixtures.json("packument-foobar-abbreviated.json")
            #expect(served["name"] == recorded["name"])
            #expect(served["dist-tags"] == recorded["dist-tags"])
            // The recording's `modified` and `description` were added by cnpmcore; the registry's
            // abbreviated form has the full document's time.modified and no description.
            let full = try Fixtures.json("packument-foobar.json")
            #expect(served["modified"] == full["time"]?["modified"])
            #expect(served["description"] == nil)
            let servedVersions = try #require(served["versions"]?.objectValue)
            let recordedVersions = try #require(recorded["versions"]?.objectValue)
            #expect(Set(servedVersions.keys) == Set(recordedVersions.keys))
            for (version, recordedVersion) in recordedVersions {
                let servedVersion = try #require(servedVersions[version]?.objectValue)
                let recordedFields = try #require(recordedVersion.objectValue)
                #expect(Set(servedVersion.keys) == Set(recordedFields.keys), "\(version)")
                for (field, value) in recordedFields where field != "dist" {
                    #expect(servedVersion[field] == value, "\(version).\(field)")
                }
                let servedDist = try #require(servedVersion["dist"]?.objectValue)
                for (field, value) in try #require(recordedFields["dist"]?.objectValue) where field != "tarball" {
                    #expect(servedDist[field] == value, "\(version).dist.\(field)")
                }
                #expect(servedDist["tarball"] == .string("http://127.0.0.1:\(server.port)/foobar/-/foobar-\(version).tgz"))
            }
        }
    }

    @Test("abbreviated versions keep exactly npm's fields; hasInstallScript is derived from scripts")
    func abbreviatedFields() async throws {
        try await withServer(store: try fixtureStore()) { server in
            let served = try await server.get("/@scope%2fpkg", [("Accept", "application/vnd.npm.install-v1+json")]).json()
            let version = try #require(served["versions"]?["1.1.0"]?.objectValue)
            let expected: Set<String> = [
                "name", "version", "deprecated", "acceptDependencies", "optionalDependencies",
                "bundleDependencies", "peerDependencies", "peerDependenciesMeta", "bin", "directories", "dist", "engines",
                "_hasShrinkwrap", "funding", "cpu", "os", "libc", "hasInstallScript",
            ]
            #expect(Set(version.keys) == expected)
            #expect(version["hasInstallScript"] == true)
            #expect(version["deprecated"] == "use 2.x")
            #expect(version["scripts"] == nil && version["gitHead"] == nil)
            let first = try #require(served["versions"]?["1.0.0"]?.objectValue)
            #expect(Set(first.keys) == ["name", "version", "dependencies", "dist"])
            #expect(first["hasInstallScript"] == nil)
            #expect(served["time"]?["1.0.0"] == "2020-01-01T00:00:00.000Z")
            #expect(served["modified"] == "2021-01-01T00:00:00.000Z")
            #expect(served["readme"] == nil)
        }
    }

    @Test("only held versions are served; a dist-tag on an unheld version moves to the highest held stable one")
    func heldVersionsOnly() async throws {
        try await withServer(store: try fixtureStore()) { server in
            for accept in ["application/json", abbreviatedAccept] {
                let served = try await server.get("/@scope/pkg", [("Accept", accept)]).json()
                #expect(Set(served["versions"]?.objectValue.map { Array($0.keys) } ?? []) == ["1.0.0", "1.1.0", "2.0.0-beta.1"], "\(accept)")
                #expect(served["dist-tags"] == ["latest": "1.1.0", "next": "2.0.0-beta.1", "old": "1.0.0"], "\(accept)")
                #expect(served["time"]?["2.0.0"] == nil)
                #expect(served["time"]?["created"] == "2020-01-01T00:00:00.000Z")
            }
            // Every other dist byte as the registry sent it: signatures, fileCount, unpackedSize.
            let full = try await server.get("/@scope/pkg").json()
            let dist = try #require(full["versions"]?["1.0.0"]?["dist"])
            #expect(dist["signatures"] == [["keyid": "SHA256:x", "sig": "MEUC"]])
            #expect(dist["fileCount"] == 3 && dist["unpackedSize"] == 1234 && dist["integrity"] == "sha512-AAA=")
            #expect(dist["tarball"] == .string("http://127.0.0.1:\(server.port)/@scope/pkg/-/pkg-1.0.0.tgz"))
        }
    }

    @Test("a metadata-only mirror serves every version and answers 404 for tarballs")
    func metadataOnly() async throws {
        try await withServer(store: try fixtureStore(), { $0.fetchTarballs = false }) { server in
            let served = try await server.get("/@scope/pkg").json()
            #expect(served["versions"]?.objectValue?.count == 4)
            #expect(served["dist-tags"]?["latest"] == "2.0.0")
            let tarball = try await server.get("/foobar/-/foobar-1.0.0.tgz")
            #expect(tarball.status == 404)
            #expect(try tarball.json()["error"] == "not_found")
        }
    }

    @Test("scoped names in every form clients send give the same document")
    func scopedForms() async throws {
        try await withServer(store: try fixtureStore()) { server in
            let forms = ["/@scope%2fpkg", "/@scope%2Fpkg", "/@scope/pkg"]
            var bodies: [[UInt8]] = []
            for form in forms {
                let response = try await server.get(form, [("Accept", abbreviatedAccept)])
                #expect(response.status == 200, "\(form)")
                bodies.append(response.body)
            }
            #expect(Set(bodies.map { $0.count }).count == 1)
            #expect(bodies.allSatisfy { $0 == bodies[0] })
        }
    }

    @Test("gzip when accepted, with its own strong ETag; the same JSON once gunzipped")
    func gzipRepresentation() async throws {
        try await withServer(store: try fixtureStore()) { server in
            let plain = try await server.get("/foobar", [("Accept", abbreviatedAccept)])
            let gzipped = try await server.get("/foobar", [("Accept", abbreviatedAccept), ("Accept-Encoding", "gzip, deflate")])
            #expect(gzipped.header("Content-Encoding") == "gzip")
            #expect(gzipped.body.starts(with: [0x1F, 0x8B]))
            #expect(try gzipped.decodedBody() == plain.body)
            #expect(gzipped.header("ETag") != plain.header("ETag"))
            let full = try await server.get("/foobar", [("Accept-Encoding", "gzip")])
            let refused = try await server.get("/foobar", [("Accept-Encoding", "gzip;q=0, identity")])
            #expect(refused.header("Content-Encoding") == nil)
            #expect(Set([plain.header("ETag"), gzipped.header("ETag"), full.header("ETag"), refused.header("ETag")]).count == 4)
        }
    }

    @Test("If-None-Match gives 304 with the same ETag and Vary; a stale tag or none gives 200; If-Modified-Since too")
    func conditionalRequests() async throws {
        try await withServer(store: try fixtureStore()) { server in
            let first = try await server.get("/foobar", [("Accept", abbreviatedAccept)])
            let etag = try #require(first.header("ETag"))
            let lastModified = try #require(first.header("Last-Modified"))
            let again = try await server.get("/foobar", [("Accept", abbreviatedAccept), ("If-None-Match", etag)])
            #expect(again.status == 304)
            #expect(again.body.isEmpty)
            #expect(again.header("ETag") == etag)
            #expect(again.header("Vary") == "Accept, Accept-Encoding")
            #expect(again.header("Cache-Control") == "public, max-age=300")
            let listed = try await server.get("/foobar", [("Accept", abbreviatedAccept), ("If-None-Match", "\"other\", W/\(etag)")])
            #expect(listed.status == 304)
            // The ETag of the abbreviated form does not validate the full form.
            let otherForm = try await server.get("/foobar", [("If-None-Match", etag)])
            #expect(otherForm.status == 200)
            let stale = try await server.get("/foobar", [("Accept", abbreviatedAccept), ("If-None-Match", "\"stale\"")])
            #expect(stale.status == 200 && !stale.body.isEmpty)
            let since = try await server.get("/foobar", [("If-Modified-Since", lastModified)])
            #expect(since.status == 304)
            let before = try await server.get("/foobar", [("If-Modified-Since", "Mon, 01 Jan 2001 00:00:00 GMT")])
            #expect(before.status == 200)
            // If-None-Match wins over If-Modified-Since.
            let both = try await server.get("/foobar", [("If-None-Match", "\"stale\""), ("If-Modified-Since", lastModified)])
            #expect(both.status == 200)
            let garbage = try await server.get("/foobar", [("If-Modified-Since", "yesterday")])
            #expect(garbage.status == 200)
            #expect(server.metric("npm_mirror_serve_not_modified_total{route=\"packument\"}") == 3)
        }
    }

    @Test("HEAD answers the headers of GET without a body")
    func headRequests() async throws {
        try await withServer(store: try fixtureStore()) { server in
            let get = try await server.get("/foobar")
            let head = try await RawHTTP.request(port: server.port, "HEAD", "/foobar")
            #expect(head.status == 200)
            #expect(head.header("Content-Length") == String(get.body.count))
            #expect(head.header("ETag") == get.header("ETag"))
            let tarball = try await RawHTTP.request(port: server.port, "HEAD", "/foobar/-/foobar-1.0.0.tgz")
            #expect(tarball.status == 200 && tarball.header("Content-Length") == "10240")
        }
    }

    @Test("GET /{name}/{version-or-tag}: that version's document")
    func versionDocuments() async throws {
        try await withServer(store: try fixtureStore()) { server in
            let byVersion = try await server.get("/foobar/1.0.0")
            #expect(byVersion.status == 200)
            let document = try byVersion.json()
            #expect(document["version"] == "1.0.0")
            #expect(document["dist"]?["tarball"] == .string("http://127.0.0.1:\(server.port)/foobar/-/foobar-1.0.0.tgz"))
            let byTag = try await server.get("/foobar/latest", [("Accept-Encoding", "gzip")])
            #expect(byTag.header("Content-Encoding") == "gzip")
            #expect(try JSONValue(parsing: byTag.decodedBody())["version"] == "1.1.0")
            let scoped = try await server.get("/@scope%2fpkg/latest")
            #expect(try scoped.json()["version"] == "1.1.0")
            let scopedSlash = try await server.get("/@scope/pkg/1.0.0")
            #expect(try scopedSlash.json()["version"] == "1.0.0")
            let unheld = try await server.get("/@scope/pkg/2.0.0")
            #expect(unheld.status == 404)
            #expect(try unheld.json()["error"] == "not_found")
            let etag = try #require(byVersion.header("ETag"))
            #expect(try await server.get("/foobar/1.0.0", [("If-None-Match", etag)]).status == 304)
        }
    }

    @Test("tarballs: streamed as stored, octet-stream, Content-Length, never a Content-Encoding; scoped forms")
    func tarballs() async throws {
        try await withServer(store: try fixtureStore()) { server in
            let response = try await server.get("/foobar/-/foobar-1.0.0.tgz", [("Accept-Encoding", "gzip")])
            #expect(response.status == 200)
            #expect(response.body == (try Fixtures.bytes("foobar-1.0.0.tgz")))
            #expect(response.header("Content-Type") == "application/octet-stream")
            #expect(response.header("Content-Length") == "10240")
            #expect(response.header("Content-Encoding") == nil)
            #expect(response.header("ETag") != nil)
            for form in ["/@scope/pkg/-/pkg-1.1.0.tgz", "/@scope%2fpkg/-/pkg-1.1.0.tgz", "/@scope%2Fpkg/-/pkg-1.1.0.tgz"] {
                let scoped = try await server.get(form)
                #expect(scoped.status == 200, "\(form)")
                #expect(scoped.text == "tarball 1.1.0", "\(form)")
            }
            let unheld = try await server.get("/@scope/pkg/-/pkg-2.0.0.tgz")
            #expect(unheld.status == 404)
            let etag = try #require(response.header("ETag"))
            #expect(try await server.get("/foobar/-/foobar-1.0.0.tgz", [("If-None-Match", etag)]).status == 304)
        }
    }

    @Test("ping, audit, writes")
    func otherEndpoints() async throws {
        try await withServer(store: try fixtureStore()) { server in
            let ping = try await server.get("/-/ping?write=true")
            #expect(ping.status == 200 && ping.text == "{}")
            for path in ["/-/npm/v1/security/advisories/bulk", "/-/npm/v1/security/audits/quick"] {
                let audit = try await RawHTTP.request(port: server.port, "POST", path, headers: [("Content-Type", "application/json")], body: Array("{}".utf8))
                #expect(audit.status == 501, "\(path)")
                let error = try audit.json()
                #expect(error["error"] == "not_implemented")
                #expect(error["reason"]?.stringValue?.contains("no security advisory data") == true)
                #expect(audit.text != "{}")
                let get = try await server.get(path)
                #expect(get.status == 405 && get.header("Allow") == "POST")
            }
            for (method, path) in [("PUT", "/foobar"), ("DELETE", "/foobar/-/foobar-1.0.0.tgz"), ("POST", "/foobar"), ("PUT", "/-/user/org.couchdb.user:me"), ("PATCH", "/@scope/pkg")] {
                let write = try await RawHTTP.request(port: server.port, method, path, body: Array("{}".utf8))
                #expect(write.status == 405, "\(method) \(path)")
                #expect(write.header("Allow") == "GET, HEAD", "\(method) \(path)")
                #expect(try write.json()["reason"]?.stringValue?.contains("read-only") == true)
            }
        }
    }

    @Test("unpublished, deleted and unknown packages: 404 not_found")
    func goneAndMissing() async throws {
        let store = try fixtureStore()
        let directory = try temporaryDirectory()
        let records = try SQLiteRecordStore(path: directory + "/records.sqlite")
        try await records.prepare()
        try store.packument("deleted-pkg", rev: "2-x", Array(#"{"name":"deleted-pkg","versions":{},"dist-tags":{}}"#.utf8))
        _ = try await records.write([RecordDocument(id: "deleted-pkg", body: ["type": "package", "name": "deleted-pkg", "deleted": true])])
        try await withServer(store: store, records: records) { server in
            let unpublished = try await server.get("/babel-plugin-autocss")
            #expect(unpublished.status == 404)
            let body = try unpublished.json()
            #expect(body["error"] == "not_found")
            #expect(body["reason"] == "This package was unpublished at 2022-01-14T12:34:23.941Z.")
            #expect(try await server.get("/babel-plugin-autocss", [("Accept", abbreviatedAccept)]).status == 404)
            let deleted = try await server.get("/deleted-pkg")
            #expect(deleted.status == 404)
            #expect(try deleted.json() == ["error": "not_found"])
            let missing = try await server.get("/no-such-package")
            #expect(missing.status == 404)
            #expect(try missing.json() == ["error": "not_found"])
            #expect(try await server.get("/no-such-package/1.0.0").status == 404)
            #expect(try await server.get("/no-such-package/-/no-such-package-1.0.0.tgz").status == 404)
        }
    }

    @Test("hostile paths get a clear 4xx and read nothing outside the store")
    func hostilePaths() async throws {
        let store = try fixtureStore()
        let outside = store.root + "/../secret.txt"
        try Data("TOP SECRET".utf8).write(to: URL(fileURLWithPath: outside))
        try await withServer(store: store) { server in
            let cases: [(String, Int)] = [
                ("/..", 400), ("/../secret.txt", 400), ("/%2e%2e/secret.txt", 400), ("/%2E%2E", 400), ("/foobar/..", 400),
                ("/foobar/-/..%2f..%2f..%2fsecret.txt", 400), ("/..%2fsecret.txt", 400), ("/%2e%2e%2fsecret.txt", 400),
                ("/@scope%2f..", 400), ("/@..%2fpkg", 400), ("/foobar%2f1.0.0", 400), ("/foobar/-/%2e%2e%2f%2e%2e%2fsecret.txt", 400),
                ("/foobar%00", 400), ("/foo%5cbar", 400), ("/.hidden", 400), ("/_design", 400),
                ("/node_modules", 400), ("/%2fetc%2fpasswd", 400), ("/foo%20bar", 400), ("/foo%zz", 400), ("/%C3%28", 400),
                ("//etc/passwd", 400), ("/foobar//", 400), ("/foobar/", 400),
                ("/" + String(repeating: "a", count: 215), 400), ("/" + String(repeating: "a", count: 1100), 414),
                ("/foobar/-/other-1.0.0.tgz", 400), ("/foobar/-/foobar-1.0.0.tar", 400), ("/foobar/-/foobar-notaversion.tgz", 400),
                ("/foobar/-/foobar-1.0.0.tgz/extra", 404), ("/@scope/pkg/-/other-1.0.0.tgz", 400), ("/@scope%2fpkg/-/%40scope%2fpkg-1.0.0.tgz", 400),
                ("/@scope", 400), ("/@/pkg", 400), ("/-/all", 404), ("/-/../secret.txt", 400),
            ]
            for (path, status) in cases {
                let response = try await server.get(path)
                #expect(response.status == status, "\(path): \(response.status) \(response.text.prefix(200))")
                #expect(!response.text.contains("TOP SECRET"), "\(path)")
                if response.status != 414 {
                    #expect(response.header("Content-Type") == "application/json", "\(path)")
                    #expect((try? response.json())?["reason"]?.stringValue?.isEmpty == false, "\(path)")
                }
            }
            let nul = try await RawHTTP.request(port: server.port, rawTarget: Array("/foo".utf8) + [0] + Array("bar".utf8))
            #expect(nul.status == 400)
            let badHost = try await server.get("/foobar", [("Host", "evil.com/\"><script>")])
            #expect(badHost.status == 400)
        }
        #expect(try String(contentsOfFile: outside, encoding: .utf8) == "TOP SECRET")
        // Nothing was written outside the packages' served/ folders.
        let written = FileManager.default.enumerator(atPath: store.root)?.allObjects as? [String] ?? []
        #expect(written.filter { $0.contains("served/") }.allSatisfy { $0.split(separator: "/").count == 4 })
    }

    @Test("PUBLIC_URL and X-Forwarded-Proto decide the tarball base, and the ETag")
    func tarballBase() async throws {
        let store = try fixtureStore()
        let byHost = try await withServer(store: store) { server in
            let plain = try await server.get("/foobar", [("Host", "mirror.example:8080")])
            #expect(try plain.json()["versions"]?["1.0.0"]?["dist"]?["tarball"] == "http://mirror.example:8080/foobar/-/foobar-1.0.0.tgz")
            let forwarded = try await server.get("/foobar", [("Host", "mirror.example"), ("X-Forwarded-Proto", "https")])
            #expect(try forwarded.json()["versions"]?["1.0.0"]?["dist"]?["tarball"] == "https://mirror.example/foobar/-/foobar-1.0.0.tgz")
            #expect(plain.header("ETag") != forwarded.header("ETag"))
            return plain.header("ETag")
        }
        try await withServer(store: store, { $0.publicURL = "https://npm.example.org/" }) { server in
            let response = try await server.get("/foobar", [("Host", "mirror.example:8080")])
            #expect(try response.json()["versions"]?["1.1.0"]?["dist"]?["tarball"] == "https://npm.example.org/foobar/-/foobar-1.1.0.tgz")
            #expect(response.header("ETag") != byHost)
        }
    }

    @Test("documents are derived once per revision and held set, kept on disk, and derived again when a tarball arrives")
    func derivedOnce() async throws {
        let store = try fixtureStore()
        try await withServer(store: store) { server in
            try await withThrowingTaskGroup(of: Int.self) { group in
                for index in 0..<40 {
                    group.addTask { try await server.get("/@scope/pkg", index % 2 == 0 ? [("Accept", abbreviatedAccept)] : []).status }
                }
                for try await status in group { #expect(status == 200) }
            }
            #expect(server.metric("npm_mirror_serve_derivations_total{result=\"derived\"}") == 1)
            let served = try store.store.servedFiles(name: "@scope/pkg").map(\.fileName)
            #expect(served.count == 7, "full and abbreviated, each plain and gzip; the index; the web summary and the README")
            #expect(served.contains { $0.hasSuffix(".abbreviated.json.gz") } && served.contains { $0.hasSuffix(".index.json") } && served.contains { $0.hasSuffix(".web.json") })
            _ = try await server.get("/@scope/pkg/1.0.0")
            #expect(server.metric("npm_mirror_serve_derivations_total{result=\"derived\"}") == 1)
            // The consumer stores 2.0.0's tarball: another key, derived once, and latest is back.
            try store.tarball("@scope/pkg", "2.0.0", Array("tarball 2.0.0".utf8))
            let after = try await server.get("/@scope/pkg").json()
            #expect(after["dist-tags"]?["latest"] == "2.0.0")
            #expect(server.metric("npm_mirror_serve_derivations_total{result=\"derived\"}") == 2)
            // A new revision of the packument.
            try store.packument("@scope/pkg", rev: "5-def", Array(scopedPackument.replacingOccurrences(of: "a scoped package", with: "revised").utf8))
            #expect(try await server.get("/@scope/pkg").json()["description"] == "revised")
        }
        // A second server over the same store (and the same tarball base) reuses the files on disk.
        try await withServer(store: store) { server in
            _ = try await server.get("/@scope/pkg", [("Host", "mirror.test")])
        }
        try await withServer(store: store) { server in
            _ = try await server.get("/@scope/pkg", [("Host", "mirror.test")])
            #expect(server.metric("npm_mirror_serve_derivations_total{result=\"derived\"}") == 0)
        }
    }

    @Test("an unchanged package is answered from the last lookup; a new tarball or revision is seen at once")
    func recentLookups() async throws {
        let store = try fixtureStore()
        let folder = store.store.absolutePackageDirectory(for: "@scope/pkg")
        // Older than the two seconds within which a stamp is not trusted; always the same instant, so
        // only what else changed (size, inode) can tell a folder or packument apart.
        let past = Date(timeIntervalSince1970: 1_700_000_000)
        @Sendable func age() throws {
            for path in [folder, store.store.packumentFilePath(for: "@scope/pkg")] {
                try FileManager.default.setAttributes([.modificationDate: past], ofItemAtPath: path)
            }
        }
        try await withServer(store: store) { server in
            try age()
            #expect(try await server.get("/@scope/pkg").json()["dist-tags"]?["latest"] == "1.1.0")
            #expect(try await server.get("/@scope/pkg").json()["dist-tags"]?["latest"] == "1.1.0")
            try store.tarball("@scope/pkg", "2.0.0", Array("tarball 2.0.0".utf8))
            #expect(try await server.get("/@scope/pkg").json()["dist-tags"]?["latest"] == "2.0.0")
            try age()
            _ = try await server.get("/@scope/pkg")
            try store.packument("@scope/pkg", rev: "9-new", Array(scopedPackument.replacingOccurrences(of: "a scoped package", with: "newer").utf8))
            try FileManager.default.setAttributes([.modificationDate: past], ofItemAtPath: folder)
            // Only packument.json.gz (a new inode) tells the new revision here.
            #expect(try await server.get("/@scope/pkg").json()["description"] == "newer")
            // Served files removed behind the server's back (another process's rotation): looked up again.
            try age()
            _ = try await server.get("/@scope/pkg")
            for file in try store.store.servedFiles(name: "@scope/pkg") {
                try store.store.removeServedFile(name: "@scope/pkg", fileName: file.fileName)
            }
            try age()
            let again = try await server.get("/@scope/pkg")
            #expect(again.status == 200)
            #expect(try again.json()["description"] == "newer")
            #expect(try await server.get("/@scope/pkg/1.0.0").status == 200)
        }
    }

    @Test("search: npm's shape over the package records, names and descriptions matched")
    func search() async throws {
        let store = try fixtureStore()
        let directory = try temporaryDirectory()
        let records = try SQLiteRecordStore(path: directory + "/records.sqlite")
        try await records.prepare()
        _ = try await records.write([
            RecordDocument(id: "foobar", body: ["type": "package", "name": "foobar", "description": "A test module", "deleted": false, "unpublished": false]),
            RecordDocument(id: "@scope/pkg", body: ["type": "package", "name": "@scope/pkg", "description": "Scoped pkg for the tests", "deleted": false, "unpublished": false]),
            RecordDocument(id: "babel-plugin-autocss", body: ["type": "package", "unpublished": true]),
            RecordDocument(id: "change:1", body: ["type": "change", "id": "foobar"]),
        ])
        try await withServer(store: store, records: records) { server in
            let response = try await server.get("/-/v1/search?text=foo&size=20&from=0")
            #expect(response.status == 200)
            let body = try response.json()
            #expect(body["total"] == 1)
            let package = try #require(body["objects"]?.arrayValue?.first?["package"])
            #expect(package["name"] == "foobar")
            #expect(package["version"] == "1.1.0")
            #expect(package["description"] == "A test module")
            #expect(package["date"] == "2011-11-04T02:20:58.139Z")
            #expect(package["maintainers"] == [["username": "jergason", "email": "jergason@gmail.com"]])
            #expect(package["publisher"]?["username"] == "jergason")
            #expect(package["links"]?["npm"] != nil)
            #expect(body["objects"]?.arrayValue?.first?["score"]?["final"]?.numberValue != nil)
            #expect(body["objects"]?.arrayValue?.first?["searchScore"]?.numberValue != nil)
            #expect(body["time"]?.stringValue != nil)

            let scoped = try await server.get("/-/v1/search?text=pkg").json()
            #expect(scoped["objects"]?.arrayValue?.first?["package"]?["name"] == "@scope/pkg")
            #expect(scoped["objects"]?.arrayValue?.first?["package"]?["keywords"] == ["scoped", "test"])
            let all = try await server.get("/-/v1/search?text=&size=1").json()
            #expect(all["total"] == 2 && all["objects"]?.arrayValue?.count == 1)
            let page = try await server.get("/-/v1/search?text=&size=1&from=1").json()
            #expect(page["objects"]?.arrayValue?.first?["package"]?["name"] != all["objects"]?.arrayValue?.first?["package"]?["name"])
            #expect(try await server.get("/-/v1/search?text=autocss").json()["total"] == 0)
            // Descriptions match too (every word in the name or the description), ranked after names.
            let described = try await server.get("/-/v1/search?text=test+MODULE").json()
            #expect(described["total"] == 1 && described["objects"]?.arrayValue?.first?["package"]?["name"] == "foobar")
            let both = try await server.get("/-/v1/search?text=pkg").json()
            #expect(both["total"] == 1, "the scoped package matches by name; foobar's description lacks 'pkg'")
            let tests = try await server.get("/-/v1/search?text=tests").json()
            #expect(tests["objects"]?.arrayValue?.compactMap { $0["package"]?["name"]?.stringValue } == ["@scope/pkg"])
            #expect(try await server.get("/-/v1/search?text=module+pkg").json()["total"] == 0, "no record holds both words")
            #expect(try await server.get("/-/v1/search?text=x&size=0").status == 400)
            #expect(try await server.get("/-/v1/search?text=x&size=251").status == 400)
            #expect(try await server.get("/-/v1/search?text=x&from=-1").status == 400)
        }
    }

    @Test("search over CouchDB records answers from serve's index of them: 503 saying so until it is built, then found like the embedded store")
    func searchOverCouchDB() async throws {
        let store = try fixtureStore()
        try await withCouchDBDouble(adminUser: "admin", adminPassword: "serve-pw") { couch in
            let records = CouchDBRecordStore(configuration: try CouchDBConfiguration(url: couch.url, database: "records", user: "admin", password: "serve-pw"), logger: testLogger)
            try await records.prepare()
            _ = try await records.write([
                RecordDocument(id: "foobar", body: ["type": "package", "name": "foobar", "description": "A test module"]),
                RecordDocument(id: "@scope/pkg", body: ["type": "package", "name": "@scope/pkg", "description": "Scoped pkg for the tests"]),
                RecordDocument(id: "babel-plugin-autocss", body: ["type": "package", "unpublished": true]),
                RecordDocument(id: "change:1", body: ["type": "change", "id": "foobar"]),
            ])
            let index = try CouchDBSearchIndex(path: try temporaryDirectory() + "/records-search.sqlite", source: records, pageSize: 2, logger: testLogger)
            try await withServer(store: store, records: records, search: index) { server in
                let early = try await server.get("/-/v1/search?text=foo")
                #expect(early.status == 503)
                #expect(try early.json()["error"] == "search_index_building")
                #expect(try early.json()["reason"]?.stringValue?.contains("being built") == true)

                try await index.catchUp()
                let found = try await server.get("/-/v1/search?text=foo").json()
                #expect(found["total"] == 1 && found["objects"]?.arrayValue?.first?["package"]?["name"] == "foobar")
                let described = try await server.get("/-/v1/search?text=tests").json()
                #expect(described["objects"]?.arrayValue?.compactMap { $0["package"]?["name"]?.stringValue } == ["@scope/pkg"])
                #expect(try await server.get("/-/v1/search?text=autocss").json()["total"] == 0)
            }
        }
    }

    @Test("metrics: requests by route and status class, bytes, latency, 304s")
    func metrics() async throws {
        try await withServer(store: try fixtureStore()) { server in
            let tarball = try await server.get("/foobar/-/foobar-1.0.0.tgz")
            _ = try await server.get("/no-such-package")
            _ = try await server.get("/..")
            _ = try await server.get("/-/ping")
            #expect(server.metric("npm_mirror_serve_requests_total{route=\"tarball\",status=\"2xx\"}") == 1)
            #expect(server.metric("npm_mirror_serve_requests_total{route=\"packument\",status=\"4xx\"}") == 1)
            #expect(server.metric("npm_mirror_serve_requests_total{route=\"rejected\",status=\"4xx\"}") == 1)
            #expect(server.metric("npm_mirror_serve_requests_total{route=\"ping\",status=\"2xx\"}") == 1)
            #expect(server.metric("npm_mirror_serve_response_bytes_total{route=\"tarball\"}") == Double(tarball.body.count))
            #expect(server.metricsText.contains("npm_mirror_serve_request_duration_seconds_bucket{route=\"tarball\""))
            #expect(!server.metricsText.contains("foobar"))
        }
    }
}
