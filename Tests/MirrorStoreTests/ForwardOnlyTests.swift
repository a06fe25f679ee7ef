import Foundation
import MirrorStore
import Testing

/// The store only moves a package's packument forward (issue #23): an older generation is refused,
/// a same-generation conflict branch keeps the current one, and writers of one package in several
/// processes take the package's lock in turn.
@Suite("The store only moves forward")
struct ForwardOnlyTests {
    @Test("an older generation is refused and leaves the current packument and its revisions as they were")
    func olderRefused() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let store = try directory.makeStore(revisionsKept: 2)
        #expect(try store.storePackument(name: "left-pad", rev: "6-new", json: Array(#"{"g":6}"#.utf8)).outcome == .written)
        let older = try store.storePackument(name: "left-pad", rev: "5-old", json: Array(#"{"g":5}"#.utf8))
        #expect(older.outcome == .olderRefused(current: "6-new"))
        #expect(older.wasRefused && !older.wasWritten)
        #expect(try store.currentPackumentRevision(name: "left-pad") == "6-new")
        #expect(try store.readPackument(name: "left-pad") == Array(#"{"g":6}"#.utf8))
        // Nothing of the refused revision was written, not even as a previous revision.
        #expect(try store.previousPackumentRevisions(name: "left-pad").isEmpty)
        #expect(try store.readPackument(name: "left-pad", revision: "5-old") == nil)
        // Generations compare as numbers, not as text: 10 is newer than 9.
        #expect(try store.storePackument(name: "left-pad", rev: "10-a", json: Array(#"{"g":10}"#.utf8)).outcome == .written)
        #expect(try store.storePackument(name: "left-pad", rev: "9-z", json: Array(#"{"g":9}"#.utf8)).outcome == .olderRefused(current: "10-a"))
    }

    @Test("another revision of the same generation keeps the current one; the same revision writes nothing")
    func sameGeneration() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let store = try directory.makeStore()
        #expect(try store.storePackument(name: "a", rev: "3-aaa", json: Array(#"{"b":"a"}"#.utf8)).outcome == .written)
        #expect(try store.storePackument(name: "a", rev: "3-bbb", json: Array(#"{"b":"b"}"#.utf8)).outcome == .conflictKept(current: "3-aaa"))
        #expect(try store.storePackument(name: "a", rev: "3-aaa", json: Array(#"{"b":"a"}"#.utf8)).outcome == .unchanged)
        #expect(try store.currentPackumentRevision(name: "a") == "3-aaa")
        #expect(try store.readPackument(name: "a") == Array(#"{"b":"a"}"#.utf8))
        #expect(try store.storePackument(name: "a", rev: "4-ccc", json: Array(#"{"b":"c"}"#.utf8)).outcome == .written)
        #expect(try store.previousPackumentRevisions(name: "a") == ["3-aaa"])
    }

    @Test("a revision file left by a crash before the link is made current by the next write of it")
    func crashLeftover() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let store = try directory.makeStore()
        try store.storePackument(name: "a", rev: "1-a", json: Array(#"{"g":1}"#.utf8))
        // As if a write of 2-b had renamed its revision file into place and crashed before the link.
        let revisions = store.absolutePackageDirectory(for: "a") + "/revisions"
        try FileManager.default.copyItem(atPath: revisions + "/1-a.json.gz", toPath: revisions + "/2-b.json.gz")
        #expect(try store.currentPackumentRevision(name: "a") == "1-a")
        #expect(try store.storePackument(name: "a", rev: "2-b", json: Array(#"{"g":2}"#.utf8)).outcome == .written)
        #expect(try store.currentPackumentRevision(name: "a") == "2-b")
        #expect(try store.readPackument(name: "a") == Array(#"{"g":2}"#.utf8))
    }

    @Test("the write log has one line per revision made current, none for refused ones")
    func writeLog() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        var store = try directory.makeStore()
        store.writeLog = directory.path + "/writes.log"
        try store.storePackument(name: "@scope/a", rev: "1-a", json: Array("{}".utf8))
        try store.storePackument(name: "@scope/a", rev: "1-a", json: Array("{}".utf8))
        try store.storePackument(name: "@scope/a", rev: "3-c", json: Array("{}".utf8))
        try store.storePackument(name: "@scope/a", rev: "2-b", json: Array("{}".utf8))
        try store.storePackument(name: "b", rev: "1-x", json: Array("{}".utf8))
        let log = try String(contentsOfFile: directory.path + "/writes.log", encoding: .utf8)
        #expect(log == "@scope/a\t1-a\n@scope/a\t3-c\nb\t1-x\n")
    }

    @Test("the package lock serialises writers: a second holder waits until the first lets go")
    func packageLock() async throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let store = try directory.makeStore()
        let order = OrderLog()
        let first = Thread {
            try? store.withPackageLock(name: "a") {
                order.append("first in")
                Thread.sleep(forTimeInterval: 0.3)
                order.append("first out")
            }
        }
        first.start()
        while order.entries.isEmpty { try await Task.sleep(for: .milliseconds(10)) }
        // A lock of its own file description, as another process would take it.
        try store.withPackageLock(name: "a") { order.append("second in") }
        #expect(order.entries == ["first in", "first out", "second in"])
        // Other packages are not held up.
        try store.withPackageLock(name: "b") { order.append("other") }
    }
}

final class OrderLog: @unchecked Sendable {
    private let lock = NSLock()
    private var values: [String] = []
    var entries: [String] { lock.withLock { values } }
    func append(_ entry: String) { lock.withLock { values.append(entry) } }
}
