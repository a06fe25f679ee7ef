import Foundation
import MirrorOffline
import MirrorPipeline
import MirrorTestSupport
import Synchronization
import Testing

/// The producer's pin service: what it sends, once, and `PIN_DIRECTORY`'s lockfiles as pin sets.
@Suite("Pin service")
struct PinServiceTests {
    private final class Sent: Sendable {
        let batches = Mutex<[[String]]>([])
        var all: [String] { batches.withLock { $0.flatMap { $0 } } }
        func send(_ names: [String]) async throws { batches.withLock { $0.append(names) } }
    }

    private static func lockfile(_ packages: [(String, String)]) -> String {
        let entries = packages.map { name, version in
            "\"node_modules/\(name)\":{\"version\":\"\(version)\",\"resolved\":\"https://registry.npmjs.org/\(name)/-/\(name.split(separator: "/").last!)-\(version).tgz\"}"
        }
        return "{\"lockfileVersion\":3,\"packages\":{\"\":{\"name\":\"app\"}," + entries.joined(separator: ",") + "}}"
    }

    @Test("each pinned package is sent once; a newly pinned version sends its package again; unpinned and pinned again, it is sent again")
    func sendsOnce() async throws {
        let directory = try temporaryDirectory()
        let folder = PinFolder(path: directory + "/pins")
        let sent = Sent()
        let service = PinService(folder: folder, lockfileDirectory: nil, send: sent.send, logger: testLogger)
        #expect(try await service.sendPending() == 0)
        try folder.write(PinSet(id: "a", source: "x", pinnedAt: "", packages: ["left": ["1.0.0"], "@s/right": ["2.0.0"]]))
        #expect(try await service.sendPending() == 2)
        #expect(Set(sent.all) == ["left", "@s/right"])
        #expect(try await service.sendPending() == 0, "nothing new: nothing sent")
        try folder.write(PinSet(id: "b", source: "y", pinnedAt: "", packages: ["left": ["1.0.0", "1.1.0"]]))
        #expect(try await service.sendPending() == 1)
        #expect(sent.all.last == "left")
        try folder.remove(id: "a")
        try folder.remove(id: "b")
        #expect(try await service.sendPending() == 0)
        try folder.write(PinSet(id: "a", source: "x", pinnedAt: "", packages: ["left": ["1.0.0"]]))
        #expect(try await service.sendPending() == 1, "pinned again after being unpinned")
    }

    @Test("PIN_DIRECTORY: a lockfile becomes a dir- set, a changed one is read again, a removed one is unpinned, one that is not a lockfile pins nothing")
    func lockfileDirectory() async throws {
        let directory = try temporaryDirectory()
        let lockfiles = directory + "/lockfiles"
        try FileManager.default.createDirectory(atPath: lockfiles, withIntermediateDirectories: true)
        let folder = PinFolder(path: directory + "/pins")
        let sent = Sent()
        let service = PinService(folder: folder, lockfileDirectory: lockfiles, send: sent.send, logger: testLogger)
        try Self.lockfile([("left", "1.0.0")]).write(toFile: lockfiles + "/app.json", atomically: true, encoding: .utf8)
        try "not a lockfile".write(toFile: lockfiles + "/broken.lock", atomically: true, encoding: .utf8)
        #expect(try await service.sendPending() == 1)
        #expect(folder.list().sets.map(\.id) == ["dir-app.json"])
        #expect(try folder.set(id: "dir-app.json")?.packages == ["left": ["1.0.0"]])

        try Self.lockfile([("left", "1.0.0"), ("other", "3.0.0")]).write(toFile: lockfiles + "/app.json", atomically: true, encoding: .utf8)
        #expect(try await service.sendPending() == 1)
        #expect(sent.all.last == "other")

        try FileManager.default.removeItem(atPath: lockfiles + "/app.json")
        #expect(try await service.sendPending() == 0)
        #expect(folder.list().sets.isEmpty)
    }
}
