import AsyncHTTPClient
import CouchDBDouble
import Foundation
import MirrorRecords
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import Testing

/// Behaviour of the double beyond the recording.
@Suite("CouchDB double", .timeLimit(.minutes(1)))
struct CouchDBDoubleTests {
    func send(_ double: CouchDBDouble, _ method: HTTPMethod, _ path: String, auth: Bool = true, body: JSONValue? = nil) async throws
        -> (status: Int, json: JSONValue?)
    {
        var request = HTTPClientRequest(url: double.url.absoluteString + path)
        request.method = method
        if auth {
            let token = Data("\(double.adminUser):\(double.adminPassword)".utf8).base64EncodedString()
            request.headers.add(name: "Authorization", value: "Basic \(token)")
        }
        if let body { request.body = .bytes(ByteBuffer(bytes: body.serializedBytes)) }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return (Int(response.status.code), bytes.readableBytes == 0 ? nil : try JSONValue(parsing: bytes.readableBytesView))
    }

    @Test func databaseEndpointsNeedCredentials() async throws {
        try await withDouble { target in
            let double = try #require(target.double)
            #expect(try await send(double, .PUT, "/db").status == 201)
            let anonymous = try await send(double, .GET, "/db/x", auth: false)
            #expect(anonymous.status == 401)
            #expect(anonymous.json?["reason"] == "You are not authorized to access this db.")
            #expect(try await send(double, .GET, "/", auth: false).status == 200)
            #expect(try await send(double, .GET, "/_up", auth: false).status == 200)
            #expect(try await send(double, .GET, "/_all_dbs", auth: false).json?["reason"] == "You are not a server admin.")
        }
    }

    @Test func deletedDocumentIsRecreatedOnItsBranch() async throws {
        try await withDouble { target in
            let double = try #require(target.double)
            _ = try await send(double, .PUT, "/db")
            let created = try await send(double, .PUT, "/db/a", body: ["v": 1])
            let rev = try #require(created.json?["rev"]?.stringValue)
            let deleted = try await send(double, .DELETE, "/db/a?rev=\(rev)")
            #expect(deleted.json?["rev"]?.stringValue?.hasPrefix("2-") == true)
            #expect(try await send(double, .DELETE, "/db/a?rev=\(rev)").json?["reason"] == "deleted")
            let recreated = try await send(double, .PUT, "/db/a", body: ["v": 2])
            #expect(recreated.status == 201)
            #expect(recreated.json?["rev"]?.stringValue?.hasPrefix("3-") == true)
            let info = try await send(double, .GET, "/db")
            #expect(info.json?["doc_count"] == 1)
            #expect(info.json?["doc_del_count"] == 0)
        }
    }

    @Test func sameBodyOnSameParentGivesSameRevision() async throws {
        var revs: [String] = []
        for _ in 0..<2 {
            try await withDouble { target in
                let double = try #require(target.double)
                _ = try await send(double, .PUT, "/db")
                revs.append(try #require(try await send(double, .PUT, "/db/a", body: ["v": 1, "w": [1, 2]]).json?["rev"]?.stringValue))
            }
        }
        #expect(revs.count == 2)
        #expect(revs.first == revs.last)
    }
}
