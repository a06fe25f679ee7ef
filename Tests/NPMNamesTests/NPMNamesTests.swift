import Foundation
import NPMNames
import Testing

@Suite("npm's names and URL pieces")
struct NPMNamesTests {
    /// Names from strangers: scoped, odd characters, non-ASCII, escapes, long.
    static let samples = [
        "left-pad", "@scope/name", "@types/node", "Capital", "a b", "x/../y", "ünïcödé", "emoji-🦄", "100%", "%2e%2e",
        "q?a=b&c", "plus+sign", "tilde~!*'()", "", "@", "@scope/", String(repeating: "n", count: 300), "tab\tnul\u{0}",
    ]

    @Test("the encoder agrees with Foundation's, and the decoder reads back what it wrote")
    func roundTrip() throws {
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        for sample in Self.samples {
            let encoded = URLEncoding.encode(sample)
            #expect(encoded == sample.addingPercentEncoding(withAllowedCharacters: unreserved), "\(sample)")
            #expect(try URLEncoding.decode(Array(encoded.utf8)) == sample)
            #expect(encoded.removingPercentEncoding == sample)
        }
    }

    @Test("strict decoding: malformed escapes and bytes that are not UTF-8 are errors; '+' is a space only in a query")
    func strict() {
        #expect(throws: URLEncoding.DecodingError.malformedEscape) { try URLEncoding.decode(Array("a%2".utf8)) }
        #expect(throws: URLEncoding.DecodingError.malformedEscape) { try URLEncoding.decode(Array("a%zz".utf8)) }
        #expect(throws: URLEncoding.DecodingError.notUTF8) { try URLEncoding.decode(Array("%ff%fe".utf8)) }
        #expect(URLEncoding.decoded("a+b") == "a+b")
        #expect(URLEncoding.decoded("a+b", plusAsSpace: true) == "a b")
        #expect(URLEncoding.decoded("%40scope%2Fname") == "@scope/name")
    }

    @Test("query strings: form-decoded, in order, a name without a value, a malformed escape kept as sent")
    func query() {
        let (path, query) = QueryString.split("/-/v1/search?text=left+pad&size=20&from&text=%ZZ&q=%40types%2Fnode")
        #expect(path == "/-/v1/search")
        #expect(query["text"] == "left pad")
        #expect(query["size"] == "20")
        #expect(query.contains("from") && query["from"] == "")
        #expect(query.items.map(\.name) == ["text", "size", "from", "text", "q"])
        #expect(query.items[3].value == "%ZZ")
        #expect(query["q"] == "@types/node")
        #expect(QueryString.split("/plain").query.items.isEmpty)
    }

    @Test("registry paths: the scope's slash escaped for documents and attestations, kept in tarball paths")
    func paths() {
        #expect(PackageName.registryPath("left-pad") == "/left-pad")
        #expect(PackageName.registryPath("@scope/name") == "/@scope%2Fname")
        #expect(!PackageName.registryPath("../x").contains("/../"))
        #expect(PackageName.registryPath("a b\u{0}") == "/a%20b%00")
        #expect(PackageName.attestationsPath(name: "@sigstore/bundle", version: "2.3.2+build.1") == "/-/npm/v1/attestations/@sigstore%2Fbundle@2.3.2+build.1")
        #expect(PackageName.tarballPath(name: "@scope/name", version: "1.0.0") == "/@scope/name/-/name-1.0.0.tgz")
        #expect(PackageName.tarballPath(name: "left-pad", version: "1.0.0-beta+x") == "/left-pad/-/left-pad-1.0.0-beta%2Bx.tgz")
        #expect(PackageName.tarballFileName(name: "@a/b", version: "2.0.0") == "b-2.0.0.tgz")
        #expect(PackageName.split("@scope/name") == ("scope", "name"))
        #expect(PackageName.split("plain").scope == nil)
        #expect(PackageName.split("@scope/").scope == nil)
        #expect(PackageName.basename("@scope/name") == "name")
    }

    @Test("npm's name rules: what old and new packages may be called, and what they may not")
    func names() {
        for good in ["left-pad", "@types/node", "JSONStream", "a", "tilde~!*'()", String(repeating: "n", count: 214)] {
            #expect(PackageName.problem(with: good) == nil, "\(good)")
        }
        for bad in ["", ".hidden", "_private", "node_modules", "favicon.ico", "a b", "@scope", "@scope/", "@/name", "@scope/..",
                    "a/b", "ünï", "x%2e", String(repeating: "n", count: 215)] {
            #expect(PackageName.problem(with: bad) != nil, "\(bad)")
        }
    }
}
