import Foundation
import MirrorJSON
import MirrorRecords
@testable import MirrorServe
import MirrorStore
import MirrorTestSupport
import MirrorWeb
import Testing

/// A README written to attack the page: raw script, a `javascript:` link, an `onerror` attribute, an
/// iframe, a quote that tries to leave an attribute, a character reference spelling a scheme.
let hostileReadme = """
    # Evil package

    <script>document.body.dataset.pwn = "script"</script>

    [click me](javascript:alert(1)) and [entity](javascript&#58;alert(2)) and [fine](https://example.com/docs)

    <img src=x onerror="document.body.dataset.pwn = 'img'">

    ![pic](x" onerror="document.body.dataset.pwn='alt)

    <iframe src="https://example.com"></iframe>

    <p unclosed paragraph

    - a list at the end
    """

/// A packument of `evil-readme` holding ``hostileReadme``, with one version.
func hostilePackument() throws -> [UInt8] {
    let readme = try JSONValue.string(hostileReadme).serializedBytes
    let text = """
        {"_id":"evil-readme","_rev":"1-e","name":"evil-readme","description":"<b>bold</b> & \\"quoted\\"","dist-tags":{"latest":"1.0.0"},
         "versions":{"1.0.0":{"name":"evil-readme","version":"1.0.0","dist":{"tarball":"https://registry.npmjs.org/evil-readme/-/evil-readme-1.0.0.tgz","integrity":"sha512-AAAA","shasum":"00"}}},
         "time":{"created":"2024-01-01T00:00:00.000Z","modified":"2024-01-02T00:00:00.000Z","1.0.0":"2024-01-01T00:00:00.000Z"},
         "homepage":"javascript:alert(3)","repository":{"type":"git","url":"git+https://github.com/owner/evil.git"},
         "readme":\(String(decoding: readme, as: UTF8.self))}
        """
    return Array(text.utf8)
}

/// Records of `@scope/pkg` and `evil-readme`: package records with verdicts, and change records.
func webRecords(provenancePath: String) async throws -> SQLiteRecordStore {
    let records = try SQLiteRecordStore(path: try temporaryDirectory() + "/records.sqlite")
    try await records.prepare()
    _ = try await records.write([
        RecordDocument(id: "@scope/pkg", body: [
            "type": "package", "name": "@scope/pkg", "outcome": "updated", "last_seq": 12, "processed_at": "2025-01-01T00:00:00Z",
            "description": "a scoped package",
            "stored_versions": ["1.0.0": ["bytes": 1234, "integrity": "sha512-x", "path": "p"], "1.1.0": ["bytes": 2345, "integrity": "sha512-y", "path": "q"]],
            "skipped_versions": ["2.0.0": "too_large"],
            "signatures": ["1.0.0": "verified", "1.1.0": "unsigned"],
            "provenance": ["1.0.0": ["verdict": "verified", "predicate_types": [], "path": .string(provenancePath)]],
        ]),
        RecordDocument(id: RecordID.change(11), body: ["type": "change", "seq": 11, "id": "@scope/pkg", "outcome": "updated", "processed_at": "2025-01-01T00:00:00Z"]),
        RecordDocument(id: RecordID.change(12), body: ["type": "change", "seq": 12, "id": "@scope/pkg", "outcome": "dead_lettered", "processed_at": "2025-01-02T00:00:00Z"]),
        RecordDocument(id: RecordID.change(13), body: ["type": "change", "seq": 13, "id": "other", "outcome": "updated", "processed_at": "2025-01-02T00:00:00Z"]),
        RecordDocument(id: "evil-readme", body: ["type": "package", "name": "evil-readme", "outcome": "updated", "description": "<b>bold</b>"]),
    ])
    return records
}

let browserAccept = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"

@Suite("Web pages")
struct WebPageTests {
    func withWebServer(_ body: @Sendable (ServerUnderTest) async throws -> Void) async throws {
        let store = try TestStore()
        try store.packument("@scope/pkg", rev: "4-abc", Array(scopedPackument.utf8))
        try store.tarball("@scope/pkg", "1.0.0", [1, 2, 3])
        try store.tarball("@scope/pkg", "1.1.0", [4, 5, 6])
        try store.tarball("@scope/pkg", "2.0.0-beta.1", [7, 8, 9])
        try store.packument("evil-readme", rev: "1-e", try hostilePackument())
        // sigstore@1.0.0's real attestations, standing in for 1.0.0's.
        let attestations = try Data(contentsOf: recordedFixture("npm-signatures", "attestations-sigstore-1.0.0.json"))
        let path = try store.store.storeAttestations(name: "@scope/pkg", version: "1.0.0", json: Array(attestations))
        let records = try await webRecords(provenancePath: path)
        try await withServer(store: store, records: records, search: records) { server in try await body(server) }
    }

    @Test("GET / gives a browser the home page and everyone else the JSON 404 of before")
    func rootNegotiation() async throws {
        try await withWebServer { server in
            let page = try await server.get("/", [("Accept", browserAccept)])
            #expect(page.status == 200)
            #expect(page.header("content-type") == "text/html; charset=utf-8")
            #expect(page.header("content-security-policy")?.contains("default-src 'none'") == true)
            #expect(page.header("vary") == "Accept")
            #expect(page.text.contains("<h1>This mirror</h1>"))
            for accept in [nil, "application/json", "application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8, */*", "*/*"] {
                let answer = try await server.get("/", accept.map { [("Accept", $0)] } ?? [])
                #expect(answer.status == 404, "Accept: \(accept ?? "none")")
                #expect(try answer.json()["error"] == "not_found")
            }
            // The registry routes answer JSON to a browser too.
            let packument = try await server.get("/@scope%2fpkg", [("Accept", browserAccept)])
            #expect(packument.header("content-type") == "application/json")
        }
    }

    @Test("the package page: versions held or not and why, verdicts, deprecation, dist-tags, changes; scoped names either way")
    func packagePage() async throws {
        try await withWebServer { server in
            for path in ["/-/web/package/@scope/pkg", "/-/web/package/@scope%2fpkg"] {
                let page = try await server.get(path)
                #expect(page.status == 200, "\(path)")
                let html = page.text
                #expect(html.contains("<h1 class=\"package-name\">@scope/pkg</h1>"))
                #expect(html.contains("a scoped package"))
                #expect(html.contains("href=\"/-/web/package/@scope/pkg/v/1.0.0\""))
                #expect(html.contains("verified") && html.contains("unsigned"))
                #expect(html.contains("not held: too large"))
                #expect(html.contains("deprecated: "))
                #expect(html.contains("<td>12</td><td>dead_lettered</td>"), "the package's change records, newest first")
                #expect(!html.contains("<td>13</td>"), "another package's change")
                #expect(html.contains("npm install @scope/pkg@"))
                #expect(html.contains("https://github.com/sigstore/sigstore-js") && html.contains(".github/workflows/publish.yml"), "provenance's source")
            }
            let version = try await server.get("/-/web/package/@scope/pkg/v/1.0.0")
            #expect(version.status == 200)
            #expect(version.text.contains("@scope/pkg@1.0.0"))
            #expect(version.text.contains("/@scope/pkg/-/pkg-1.0.0.tgz"))
            #expect(version.text.contains("<dt>built from</dt><dd>https://github.com/sigstore/sigstore-js</dd>"))
            #expect(version.text.contains("/-/npm/v1/attestations/@scope%2Fpkg@1.0.0"))
            let missing = try await server.get("/-/web/package/no-such-package")
            #expect(missing.status == 404)
            #expect(missing.header("content-type") == "text/html; charset=utf-8")
            #expect(try await server.get("/-/web/package/@scope/pkg/v/9.9.9").status == 404)
            #expect(try await server.get("/-/web/package/..%2f..%2fetc").status == 400)
            #expect(try await server.get("/-/web/package/_hidden").status == 400)
            let css = try await server.get("/-/web/style.css")
            #expect(css.header("content-type") == "text/css; charset=utf-8")
        }
    }

    @Test("a hostile README, description and homepage stay inert: no script, no handler, no javascript: link, no iframe")
    func hostileContent() async throws {
        try await withWebServer { server in
            let page = try await server.get("/-/web/package/evil-readme")
            #expect(page.status == 200)
            let html = page.text
            let readme = try #require(html.range(of: "<article class=\"readme\">").map { html[$0.upperBound...] })
            #expect(!readme.contains("<script"))
            #expect(!readme.contains("<iframe"))
            #expect(!readme.contains("<img src=x"))
            #expect(!html.contains("href=\"javascript"))
            #expect(!readme.contains(" onerror=\""), "an attribute made from the README")
            #expect(readme.contains("&lt;script&gt;"), "the script shown as text")
            #expect(readme.contains("href=\"https://example.com/docs\""), "a safe link kept")
            #expect(html.contains("&lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;"), "the description escaped")
            #expect(html.contains("href=\"https://github.com/owner/evil\""), "the repository as its https page")
            #expect(!html.contains("alert(3)"), "a javascript: homepage is not shown as a link")
        }
    }

    @Test("a package page from the store alone when the records cannot be read (a database not made yet)")
    func recordsUnreadable() async throws {
        let store = try TestStore()
        try store.packument("@scope/pkg", rev: "4-abc", Array(scopedPackument.utf8))
        let unprepared = try SQLiteRecordStore(path: try temporaryDirectory() + "/empty.sqlite")
        try await withServer(store: store, records: unprepared, search: unprepared) { server in
            let page = try await server.get("/-/web/package/@scope/pkg")
            #expect(page.status == 200)
            #expect(page.text.contains("records cannot be read now"))
            #expect(page.text.contains(">1.0.0</a>"))
            #expect(try await server.get("/-/web/package/@scope/pkg/v/1.0.0").status == 200)
        }
    }

    @Test("home and search pages")
    func homeAndSearch() async throws {
        try await withWebServer { server in
            _ = try await server.get("/-/web/")  // starts the count
            var home = ""
            for _ in 0..<100 {
                home = try await server.get("/-/web/").text
                if home.contains("Counted over") { break }
                try await Task.sleep(for: .milliseconds(50))
            }
            #expect(home.contains("<dt>packages</dt><dd>2</dd>"))
            #expect(home.contains("<dt>versions held</dt><dd>2</dd>"))
            #expect(home.contains("<dt>dead-lettered changes</dt><dd>1</dd>"))
            #expect(home.contains("<dt>verified</dt><dd>1</dd>"))
            let search = try await server.get("/-/web/search?q=scoped")
            #expect(search.status == 200)
            #expect(search.text.contains("href=\"/-/web/package/@scope/pkg\""))
            let empty = try await server.get("/-/web/search?q=")
            #expect(empty.text.contains("Type part of a package"))
        }
    }
}

@Suite("README rendering")
struct ReadmeRenderingTests {
    @Test("Markdown renders; raw HTML and unsafe links do not; a huge README is cut")
    func rendering() {
        let (html, truncated) = ReadmeHTML.render("# Title\n\nSome *text* and `code <b>`.\n\n```js\nif (a < b) {}\n```\n")
        #expect(html.contains("<h1>Title</h1>"))
        #expect(html.contains("<em>text</em>"))
        #expect(html.contains("&lt;b&gt;") || html.contains("&lt;b>"))
        #expect(!html.contains("<b>"))
        #expect(!truncated)
        #expect(ReadmeHTML.render(String(repeating: "word ", count: 100_000)).truncated)
        #expect(ReadmeHTML.isSafeTarget("https://a.b/c"))
        #expect(ReadmeHTML.isSafeTarget("docs/page.md#x"))
        for unsafe in ["javascript:alert(1)", "JAVASCRIPT:alert(1)", "data:text/html,x", "javascript&#58;x", "//evil.example/x", "vbscript:x"] {
            #expect(!ReadmeHTML.isSafeTarget(unsafe), "\(unsafe)")
        }
    }

    @Test("inputs that hang or crash Ink are made harmless first (an unclosed <p, a list ending in spaces, brackets, bare ampersands, long lines)")
    func inkPitfalls() {
        #expect(ReadmeHTML.render("<p unclosed").html.contains("&lt;p unclosed"))
        #expect(ReadmeHTML.render("- a\n  ").html.contains("<li>a</li>"))
        // 100,000 `[` overflowed Ink's stack; 40 on a line made it retry for ever.
        #expect(ReadmeHTML.render(String(repeating: "[", count: 100_000)).html.contains("[[[["))
        #expect(ReadmeHTML.render(String(repeating: "[a", count: 40)).html.contains("[a[a"))
        // A bare `&` made Ink scan to the line's end, for each one.
        let ampersands = ReadmeHTML.render(String(repeating: "&", count: 200_000)).html
        #expect(ampersands.contains("&amp;&amp;") && !ampersands.contains("&&"))
        #expect(ReadmeHTML.render("a &amp; b &#169; c & d").html.contains("a &amp; b &#169; c &amp; d"))
        #expect(ReadmeHTML.render(String(repeating: "[a](", count: 10_000)).html.count > 0)
        // A badge in a link keeps working.
        let badge = ReadmeHTML.render("[![build](https://ci.example/badge.svg)](https://ci.example)").html
        #expect(badge.contains("<a rel=\"nofollow noopener\" href=\"https://ci.example\"><img src=\"https://ci.example/badge.svg\" alt=\"build\"></a>"))
    }

    @Test("an image's alt text cannot carry attributes; a combining mark cannot hide a scheme")
    func altAndSchemes() {
        let nested = ReadmeHTML.render("![![i](x onerror=alert(1)//)](nope)").html
        #expect(!nested.contains(" onerror="), "\(nested)")
        #expect(nested.contains("<img src=\"nope\" alt=\""), "\(nested)")
        let combining = ReadmeHTML.render("[click](javascript:\u{FF9E}=1,alert(1))").html
        #expect(!combining.contains("href"), "\(combining)")
        #expect(!ReadmeHTML.isSafeTarget("javascript:\u{FF9E}=1,alert(1)"))
    }
}
