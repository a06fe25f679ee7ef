import Foundation
import MirrorStore
import Testing

@Suite("Store census: tarballs counted, within a time budget when asked")
struct StoreCensusTests {
    /// A store-shaped tree: `folders` package folders of `files` tarballs (and a packument) each.
    func makeStore(folders: Int, files: Int) throws -> (root: String, bytes: Int64) {
        let root = try TemporaryDirectory().path
        var bytes: Int64 = 0
        for folder in 0..<folders {
            let directory = root + "/\(String(format: "%02x", folder % 256))/package-\(folder)"
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
            try Data("{}".utf8).write(to: URL(fileURLWithPath: directory + "/packument.json"))
            for file in 0..<files {
                let body = Data(repeating: 7, count: folder + file + 1)
                try body.write(to: URL(fileURLWithPath: directory + "/package-\(folder)-1.0.\(file).tgz"))
                bytes += Int64(body.count)
            }
        }
        return (root, bytes)
    }

    @Test("without a budget every tarball is counted and only tarballs; a missing root is an empty store")
    func whole() throws {
        let store = try makeStore(folders: 30, files: 4)
        defer { try? FileManager.default.removeItem(atPath: store.root) }
        let census = StoreCensus.count(under: store.root)
        #expect(census == StoreCensus(tarballs: 120, bytes: store.bytes, complete: true))
        #expect(StoreCensus.count(under: store.root + "/absent") == StoreCensus())
    }

    @Test("a budget that runs out gives a lower bound marked incomplete, never passed off as the whole")
    func budget() throws {
        let store = try makeStore(folders: 200, files: 3)
        defer { try? FileManager.default.removeItem(atPath: store.root) }
        let partial = StoreCensus.count(under: store.root, budget: .zero)
        #expect(!partial.complete)
        #expect(partial.tarballs < 600 && partial.bytes < store.bytes)
        let generous = StoreCensus.count(under: store.root, budget: .seconds(600))
        #expect(generous == StoreCensus(tarballs: 600, bytes: store.bytes, complete: true))
    }

    @Test("the file system's size and free room, also for a path not made yet")
    func space() throws {
        let root = try TemporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: root) }
        let space = try #require(FileSystemSpace.of(root))
        #expect(space.size > 0 && space.free > 0 && space.free <= space.size)
        #expect((0...1).contains(space.usedFraction))
        #expect(FileSystemSpace.of(root + "/not/yet/made")?.size == space.size)
    }
}
