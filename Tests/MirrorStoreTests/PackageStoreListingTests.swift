import Foundation
import Testing

@testable import MirrorStore

@Suite("Package store listing")
struct PackageStoreListingTests {
    @Test("packageDirectories lists every package folder under its shard, and what else is at the root or in a shard", arguments: [0, 2, 3])
    func listsPackageFolders(shardLength: Int) throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let store = try directory.makeStore(shardLength: shardLength)
        let names = ["foobar", "@babel/core", String(repeating: "long-name-", count: 30)]
        for name in names { try store.storePackument(name: name, rev: "1-a", json: Array("{\"name\":\"x\"}".utf8)) }
        let root = store.root
        FileManager.default.createFile(atPath: root + "/stray.txt", contents: Data())
        try FileManager.default.createDirectory(atPath: root + "/.tmp-0011.removing", withIntermediateDirectories: true)
        if shardLength > 0 {
            try FileManager.default.createDirectory(atPath: root + "/not-a-shard", withIntermediateDirectories: true)
            let shard = store.packageDirectory(for: "foobar").split(separator: "/")[0]
            FileManager.default.createFile(atPath: root + "/\(shard)/file-in-shard", contents: Data())
        }

        let listing = try store.packageDirectories()
        #expect(listing.packageDirectories == names.map { store.packageDirectory(for: $0) }.sorted())
        #expect(listing.packageDirectories.compactMap { store.packageName(forDirectory: $0) }.sorted() == names.sorted())
        var others = ["stray.txt", ".tmp-0011.removing"]
        if shardLength > 0 {
            others += ["not-a-shard", store.packageDirectory(for: "foobar").split(separator: "/")[0] + "/file-in-shard"]
        }
        #expect(listing.otherEntries == others.sorted())
        #expect(listing.otherEntries.filter { PackageStore.isTemporary($0) } == [".tmp-0011.removing"])
    }

    @Test("directoryEntries: names sorted with whether each is a folder; nil for a missing folder; a missing root throws")
    func entries() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let store = try directory.makeStore()
        try store.storePackument(name: "foobar", rev: "1-a", json: Array("{}".utf8))
        let folder = store.packageDirectory(for: "foobar")
        let entries = try #require(try store.directoryEntries(folder))
        #expect(entries.map(\.name) == ["packument.json.gz", "revisions"])
        #expect(entries.map(\.isDirectory) == [false, true])
        #expect(try store.directoryEntries(folder + "/absent") == nil)
        try FileManager.default.removeItem(atPath: store.root)
        #expect(throws: StoreError.self) { try store.packageDirectories() }
    }
}
