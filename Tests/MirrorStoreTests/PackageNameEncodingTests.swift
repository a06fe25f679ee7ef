import Foundation
import Testing

@testable import MirrorStore

@Suite("Package name encoding")
struct PackageNameEncodingTests {
    static let hostileNames: [String] = [
        "foobar", "../x", "..%2fx", "..", ".", "/abs", "a\u{0}b", "a\u{1}b\u{7f}c\n", "@scope/../x", "@scope/name",
        "Foo", "foo", "FOO", "\u{e9}", "e\u{301}", "%", "%%", "%2E", "%2e", ".hidden", "a/b", "a\\b", "con", "nul",
        ".tmp-x", "-", "_", "~user", "名前", "🙂", String(repeating: "a", count: 1000), String(repeating: "A", count: 300),
        String(repeating: "a", count: 200), String(repeating: "a", count: 201), String(repeating: "/", count: 90),
    ]

    @Test("encodings are safe path components")
    func safe() {
        for name in Self.hostileNames {
            let encoded = PackageNameEncoding.encode(name)
            #expect(!encoded.isEmpty)
            #expect(encoded != "." && encoded != "..")
            #expect(!encoded.hasPrefix("."))
            #expect(encoded.utf8.count <= 255)
            #expect(encoded.utf8.allSatisfy { $0 >= 0x21 && $0 < 0x7F && $0 != UInt8(ascii: "/") && $0 != UInt8(ascii: "\\") }, "\(encoded)")
        }
    }

    @Test("distinct names never collide, even case-folded")
    func injective() {
        let encodings = Self.hostileNames.map(PackageNameEncoding.encode)
        #expect(Set(encodings).count == Self.hostileNames.count)
        #expect(Set(encodings.map { $0.lowercased() }).count == Self.hostileNames.count)
        #expect(PackageNameEncoding.encode("Foo") != PackageNameEncoding.encode("foo"))
        #expect(PackageNameEncoding.encode("\u{e9}") != PackageNameEncoding.encode("e\u{301}"))
    }

    @Test("escaped forms round-trip; long names use the hashed form")
    func roundTrip() {
        for name in Self.hostileNames {
            let encoded = PackageNameEncoding.encode(name)
            if PackageNameEncoding.isHashed(encoded) {
                #expect(PackageNameEncoding.escape(name).utf8.count > PackageNameEncoding.maximumComponentLength)
                #expect(PackageNameEncoding.decode(encoded) == nil)
            } else {
                #expect(PackageNameEncoding.decode(encoded) == name, "\(name.debugDescription)")
            }
            #expect(PackageNameEncoding.decode(PackageNameEncoding.escape(name)) == name)
        }
        #expect(PackageNameEncoding.encode("foobar") == "foobar")
        #expect(PackageNameEncoding.encode("@scope/name") == "%40scope%2Fname")
        #expect(PackageNameEncoding.encode("Foo") == "%46oo")
        #expect(PackageNameEncoding.encode("..") == "%2E.")
        #expect(PackageNameEncoding.encode(String(repeating: "a", count: 1000)).utf8.count == 66)
    }

    @Test("decode accepts only canonical forms")
    func canonical() {
        for component in ["%61", "%2e", "%4", "A", "a/b", ".", "..", ".x", "%2Fx%", "", "%%abc"] {
            #expect(PackageNameEncoding.decode(component) == nil, "\(component)")
        }
        #expect(PackageNameEncoding.decode("%2E%2E") == nil)
        #expect(PackageNameEncoding.decode("%2E.") == "..")
    }

    @Test("no name leaves the store root, and names are found back from their folders")
    func insideStore() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let store = try directory.makeStore(shardLength: 3)
        var folders = Set<String>()
        for name in Self.hostileNames {
            let relative = store.packageDirectory(for: name)
            let parts = relative.split(separator: "/", omittingEmptySubsequences: false)
            #expect(parts.count == 2 && parts[0].count == 3 && parts.allSatisfy { !$0.isEmpty && $0 != ".." && $0 != "." })
            folders.insert(relative)
            try store.storePackument(name: name, rev: "1-a", json: Array("{}".utf8))
            #expect(store.packageName(forDirectory: relative) == name)
            let resolved = URL(fileURLWithPath: store.absolutePackageDirectory(for: name)).standardized.path
            #expect(resolved.hasPrefix(store.root + "/"))
        }
        #expect(folders.count == Self.hostileNames.count)
        // Every package folder is exactly two levels below the root.
        let depthTwo = listTree(store.root).filter { $0.split(separator: "/").count == 2 }
        #expect(depthTwo.count == Self.hostileNames.count)
    }
}
