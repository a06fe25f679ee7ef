import Foundation
import MirrorServe
import Synchronization
import Testing

@Suite("npm-mirror serve: slow clients and the connection limit", .timeLimit(.minutes(4)))
struct ConnectionTests {
    @Test("a client that reads nothing does not hold up the others, and is dropped after the write stall timeout")
    func slowClient() async throws {
        let store = try TestStore()
        try store.packument("big", rev: "1-a", Array(#"{"name":"big","dist-tags":{"latest":"1.0.0"},"versions":{"1.0.0":{"name":"big","version":"1.0.0","dist":{"shasum":"x"}}}}"#.utf8))
        let size = 32 << 20
        try store.tarball("big", "1.0.0", [UInt8](repeating: 7, count: size))
        try await withServer(store: store, { $0.writeStallTimeout = .seconds(10) }) { server in
            let stalled = try ManualSocket(port: server.port, receiveBuffer: 4096)
            stalled.send("GET /big/-/big-1.0.0.tgz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            // Meanwhile the others are served, the same tarball included.
            for _ in 0..<5 {
                let response = try await server.get("/big", [("Accept", "application/vnd.npm.install-v1+json")])
                #expect(response.status == 200)
            }
            let full = try await server.get("/big/-/big-1.0.0.tgz")
            #expect(full.status == 200 && full.body.count == size)
            // The stalled client gets part of the body, then the server closes the connection. (The
            // stall timeout is long enough that a test client slowed by a loaded machine is not taken
            // for a stalled one; it counts only while a write is pending.)
            try await Task.sleep(for: .seconds(20))
            let (bytes, closed) = await stalled.drain()
            #expect(closed, "the server should have closed the stalled connection")
            #expect(bytes < size, "the stalled client got \(bytes) of \(size) bytes")
        }
    }

    @Test("beyond the connection limit, a connection waits until another closes")
    func connectionLimit() async throws {
        let store = try TestStore()
        try await withServer(store: store, { $0.maximumConnections = 2 }) { server in
            var idle = [try ManualSocket(port: server.port), try ManualSocket(port: server.port)]
            // Both held connections are accepted: a request on each is answered (and they stay open).
            for socket in idle {
                socket.send("GET /-/ping HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                #expect(await socket.receive(until: "{}"))
            }
            let finished = Mutex(false)
            let answered = Task {
                let status = try await server.get("/-/ping").status
                finished.withLock { $0 = true }
                return status
            }
            try await Task.sleep(for: .seconds(1))
            // Still waiting: the limit is reached, so the third connection is not accepted yet.
            #expect(!finished.withLock { $0 }, "a third connection was served while two were open with a limit of 2")
            idle.removeLast()  // closes one connection
            #expect(try await answered.value == 200)
        }
    }
}
