import Foundation
import Synchronization
import Testing

@testable import MirrorStore

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

/// What happened, in order: callers arriving and leaving, rounds starting and ending.
private final class EventLog: Sendable {
    enum Event: Equatable {
        case call(Int), done(Int), start(Int), end(Int)
    }

    private let events = Mutex<[Event]>([])
    private let rounds = Atomic<Int>(0)

    func add(_ event: Event) { events.withLock { $0.append(event) } }
    var all: [Event] { events.withLock { $0 } }
    func nextRound() -> Int { rounds.add(1, ordering: .relaxed).newValue }
}

@Suite("Grouped durability (SyncGroup)")
struct SyncGroupTests {
    /// Runs `count` callers of `group.sync()` at once, each on a thread of its own (not a pool that
    /// is as wide as the cores); their errors, by caller.
    private func callConcurrently(_ count: Int, _ group: SyncGroup, log: EventLog) -> [Int: StoreError] {
        let failures = Mutex<[Int: StoreError]>([:])
        let done = DispatchGroup()
        for caller in 0..<count {
            done.enter()
            Thread.detachNewThread {
                log.add(.call(caller))
                do {
                    try group.sync()
                } catch {
                    failures.withLock { $0[caller] = error as? StoreError }
                }
                log.add(.done(caller))
                done.leave()
            }
        }
        done.wait()
        return failures.withLock { $0 }
    }

    @Test("every caller returns after a whole round that started after it arrived; concurrent callers share rounds")
    func coveredAndShared() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let log = EventLog()
        let group = try SyncGroup(folders: [directory.path]) { _ in
            let round = log.nextRound()
            log.add(.start(round))
            usleep(20_000)
            log.add(.end(round))
            return 0
        }
        let callers = 24
        let failures = callConcurrently(callers, group, log: log)
        #expect(failures.isEmpty)

        let events = log.all
        for caller in 0..<callers {
            let arrived = try #require(events.firstIndex(of: .call(caller)))
            let left = try #require(events.firstIndex(of: .done(caller)))
            // Some round's start and end both lie between this caller's arrival and its return.
            let covered = events[arrived..<left].contains { event in
                guard case .start(let round) = event, let end = events.firstIndex(of: .end(round)) else { return false }
                return end < left
            }
            #expect(covered, "caller \(caller) returned without a round that started after it arrived: \(events)")
        }
        let (rounds, served) = group.statistics
        #expect(served == UInt64(callers))
        #expect(rounds < UInt64(callers), "\(callers) concurrent callers shared rounds (\(rounds) rounds)")
        #expect(rounds >= 1)
    }

    @Test("a failed round fails the callers it covered with a StoreError; the next round is tried afresh")
    func failedRound() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let failNext = Atomic<Bool>(true)
        let group = try SyncGroup(folders: [directory.path]) { _ in
            if failNext.exchange(false, ordering: .relaxed) {
                errno = EIO
                return -1
            }
            return 0
        }
        let error = try #require(throws: StoreError.self) { try group.sync() }
        #expect(error.code == .ioError)
        #expect(error.description.contains("syncfs"))
        try group.sync()
    }

    @Test("one descriptor per file system: two folders on the same one are synced once per round")
    func oneDescriptorPerFileSystem() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        try FileManager.default.createDirectory(atPath: directory.path + "/a", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: directory.path + "/b", withIntermediateDirectories: true)
        let calls = Atomic<Int>(0)
        let group = try SyncGroup(folders: [directory.path + "/a", directory.path + "/b"]) { _ in
            calls.add(1, ordering: .relaxed)
            return 0
        }
        try group.sync()
        #expect(calls.load(ordering: .relaxed) == 1)
        #expect(throws: StoreError.self) { try SyncGroup(folders: [directory.path + "/missing"]) }
    }

    @Test("a store with grouped durability writes packuments and tarballs through real syncfs rounds")
    func groupedStore() throws {
        let directory = try TemporaryDirectory()
        defer { directory.cleanUp() }
        let store = try PackageStore(root: directory.path + "/store", scratch: directory.path + "/scratch", shardLength: 2, durability: .grouped)
        let group = try #require(store.operations.syncGroup)
        try store.storePackument(name: "left-pad", rev: "1-a", json: Array(#"{"name":"left-pad"}"#.utf8))
        #expect(try store.readPackument(name: "left-pad") == Array(#"{"name":"left-pad"}"#.utf8))
        let file = try scratchFile(in: store, bytes: try Fixtures.bytes("foobar-1.0.0.tgz"))
        let dist = try Fixtures.foobarDist("1.0.0")
        let verified = try TarballVerifier().verify(file, integrity: dist.integrity, shasum: dist.shasum, name: "foobar", version: "1.0.0")
        try store.commitTarball(verified)
        #expect(store.hasTarball(name: "foobar", version: "1.0.0"))
        #expect(group.statistics.rounds >= 3, "the packument's and the tarball's durability points ran rounds")
        #expect(try PackageStore(root: directory.path + "/store2", scratch: directory.path + "/scratch2").operations.syncGroup == nil, "eachFile by default")
    }
}
