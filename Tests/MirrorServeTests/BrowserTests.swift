import Foundation
import MirrorHarness
import MirrorTestSupport
import Testing

/// Debian's headless Chromium (scripts/install-deps.sh --test installs it).
let chromium = ["/usr/bin/chromium", "/usr/bin/chromium-browser"].first { FileManager.default.isExecutableFile(atPath: $0) }

/// Where the browser tests leave their screenshots: `NPM_MIRROR_TEST_OUTPUT` or the temporary folder.
let screenshotDirectory: String = {
    let base = ProcessInfo.processInfo.environment["NPM_MIRROR_TEST_OUTPUT"] ?? (NSTemporaryDirectory() + "npm-mirror-test-output")
    let directory = base + "/web"
    try? FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    return directory
}()

/// Runs headless Chromium on `url` with `arguments` (`--dump-dom`, `--screenshot=…`): what it printed,
/// the DOM and its log together (the console's messages are `INFO:CONSOLE` lines of the log: a script
/// that ran, or one the page's CSP refused, shows there).
func browse(_ url: String, _ arguments: [String]) async throws -> String {
    let profile = try temporaryDirectory(prefix: "chromium-profile")
    let result = try await ChildProcess.output(
        try #require(chromium),
        ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run", "--hide-scrollbars",
         "--user-data-dir=\(profile)", "--enable-logging=stderr", "--v=0", "--timeout=15000"] + arguments + [url],
        environment: ["PATH": "/usr/bin:/bin", "HOME": profile],
        mergingStandardError: true
    )
    #expect(result.status == 0, "chromium ended with \(result.status): \(result.text.suffix(2000))")
    return result.text
}

@Suite("Web pages in a real browser", .enabled(if: chromium != nil, "needs chromium (scripts/install-deps.sh --test)"), .serialized)
struct BrowserTests {
    @Test("home, search, a package page and a scoped one render offline; the hostile README runs nothing")
    func pages() async throws {
        try await WebPageTests().withWebServer { server in
            let base = "http://127.0.0.1:\(server.port)"
            let home = try await browse(base + "/", ["--dump-dom"])
            #expect(home.contains("<h1>This mirror</h1>"), "the home page for a browser at /")
            #expect(home.contains("name=\"q\""), "a search box")

            let search = try await browse(base + "/-/web/search?q=scoped", ["--dump-dom"])
            #expect(search.contains("href=\"/-/web/package/@scope/pkg\""))

            let scoped = try await browse(base + "/-/web/package/@scope/pkg", ["--dump-dom"])
            #expect(scoped.contains("@scope/pkg"))
            for version in ["1.0.0", "1.1.0", "2.0.0-beta.1"] {
                #expect(scoped.contains(">\(version)</a>"), "version \(version) listed")
            }
            #expect(scoped.contains("verified") && scoped.contains("not held: too large"))
            _ = try await browse(base + "/-/web/package/@scope/pkg", ["--screenshot=\(screenshotDirectory)/package-page.png", "--window-size=1200,1400"])
            #expect(FileManager.default.fileExists(atPath: screenshotDirectory + "/package-page.png"))
            _ = try await browse(base + "/-/web/package/@scope/pkg", ["--screenshot=\(screenshotDirectory)/package-page-phone.png", "--window-size=390,1400"])

            let evil = try await browse(base + "/-/web/package/evil-readme", ["--dump-dom"])
            #expect(evil.contains("Evil package"), "the README rendered")
            #expect(!evil.contains("data-pwn=\""), "a script from the README ran: \(evil)")
            let readme = evil.range(of: "class=\"readme\"").map { String(evil[$0.upperBound...]) } ?? ""
            #expect(!readme.contains("<script"), "a script element from the README")
            #expect(!readme.contains("<iframe"), "an iframe from the README")
            // A script or handler that ran would log or set data-pwn; one the CSP refused logs the refusal.
            // The control: a page whose inline script the CSP refuses is seen in the log.
            let control = try temporaryDirectory(prefix: "browser-control") + "/control.html"
            try #"<html><head><meta http-equiv="Content-Security-Policy" content="default-src 'none'"></head><body><script>document.body.dataset.pwn = 1</script></body></html>"#
                .write(toFile: control, atomically: true, encoding: .utf8)
            #expect(try await browse("file://" + control, ["--dump-dom"]).contains("CONSOLE"), "the log shows a script the CSP refused")
            #expect(!evil.contains("CONSOLE"), "the browser's console reported something: \(evil.suffix(3000))")
            _ = try await browse(base + "/-/web/package/evil-readme", ["--screenshot=\(screenshotDirectory)/hostile-readme.png", "--window-size=1200,1400"])
        }
    }
}
