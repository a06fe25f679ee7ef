import NPMNames
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// `/-/admin/…` on both services: counters, the request log, fault control, live changes.
///
/// | request | effect |
/// | --- | --- |
/// | `GET /-/admin/stats` | request counters (`RequestStats`) |
/// | `GET /-/admin/log?limit=N` | the latest requests |
/// | `GET /-/admin/faults` | active rules, feed state, replica lag, fired counts |
/// | `POST /-/admin/faults` | add rules: a rule object, or `{"rules":[…],"replace":bool,"stallFeed":bool,"replicaLagSeconds":n}` |
/// | `DELETE /-/admin/faults` | remove all rules and un-stall the feed |
/// | `POST /-/admin/reset` | clear counters, log, rules; un-stall the feed |
/// | `POST /-/admin/seq-reset` | renumber the feed now (it jumps backwards) |
/// | `POST /-/admin/publish` | `{"count":N}` random live changes (default 1) |
/// | `POST /-/admin/publish-unannounced` | `{"kind":K,"name":N}` one change the feed never announces (`RegistrySimulator.publishUnannounced`) |
/// | `POST /-/admin/delete-unannounced` | `{"name":N}` delete a package without a feed entry (`RegistrySimulator.deleteUnannounced`) |
/// | `GET /-/admin/notable` | names of generated packages by kind |
struct AdminEndpoints {
    let core: SimulatorCore

    struct FaultUpdate: Decodable {
        var rules: [FaultRule]?
        var replace: Bool?
        var stallFeed: Bool?
        var replicaLagSeconds: Double?
    }

    struct FaultState: Encodable {
        var rules: [FaultRule]
        var stallFeed: Bool
        var replicaLagSeconds: Double
        var fired: [String: Int]
    }

    /// A body with a top-level `kind` is a single rule.
    struct KindProbe: Decodable {
        var kind: String?
    }

    struct PublishRequest: Decodable {
        var count: Int?
    }

    /// `kind`: a `PublishedChange.kind` word (default `new-version`); `name`: the package (default: one
    /// picked at random; required to delete).
    struct UnannouncedRequest: Decodable {
        var kind: String?
        var name: String?
    }

    struct UnannouncedResult: Encodable {
        var change: UnannouncedChange
        var updateSeq: Int

        enum CodingKeys: String, CodingKey {
            case change
            case updateSeq = "update_seq"
        }
    }

    struct PublishResult: Encodable {
        var changes: [PublishedChange]
        var updateSeq: Int

        enum CodingKeys: String, CodingKey {
            case changes
            case updateSeq = "update_seq"
        }
    }

    func respond(to request: Request, action: String, query: Query) async throws -> Response {
        var request = request
        switch (request.method, action) {
        case (.get, "stats"):
            return try Self.json(self.core.log.stats(faults: self.core.faults.firedCounts))
        case (.get, "log"):
            let limit = query["limit"].flatMap(Int.init) ?? 1000
            return try Self.json(self.core.log.recent(limit: max(0, limit)))
        case (.get, "faults"):
            return try Self.json(self.faultState())
        case (.post, "faults"):
            let body = try await request.collectBody(upTo: 1 << 20)
            let data = Data(body.readableBytesView)
            let update: FaultUpdate
            do {
                if (try? JSONDecoder().decode(KindProbe.self, from: data))?.kind != nil {
                    update = FaultUpdate(rules: [try JSONDecoder().decode(FaultRule.self, from: data)])
                } else {
                    update = try JSONDecoder().decode(FaultUpdate.self, from: data)
                }
            } catch {
                return PlainResponse.error(.badRequest, "bad_request", reason: "\(error)").makeResponse()
            }
            if update.replace == true { self.core.faults.removeAll() }
            if let rules = update.rules { self.core.faults.add(rules) }
            if let stalled = update.stallFeed { self.core.model.setStalled(stalled) }
            if let lag = update.replicaLagSeconds { self.core.model.replicaLag = .milliseconds(Int64(lag * 1000)) }
            return try Self.json(self.faultState())
        case (.delete, "faults"):
            self.core.faults.removeAll()
            self.core.model.setStalled(false)
            return try Self.json(self.faultState())
        case (.post, "reset"):
            self.core.faults.reset(seed: nil)
            self.core.log.reset()
            self.core.model.setStalled(false)
            return try Self.json(self.faultState())
        case (.post, "seq-reset"):
            let head = self.core.model.resetSequence()
            return try Self.json(["update_seq": head])
        case (.post, "publish"):
            let body = try await request.collectBody(upTo: 1 << 16)
            let count = (try? JSONDecoder().decode(PublishRequest.self, from: Data(body.readableBytesView)))?.count ?? 1
            var changes: [PublishedChange] = []
            for _ in 0..<max(0, min(count, 100_000)) {
                if let change = try self.core.publisher.publish(.random) { changes.append(change) }
            }
            return try Self.json(PublishResult(changes: changes, updateSeq: self.core.model.databaseInfo().updateSeq))
        case (.post, "publish-unannounced"), (.post, "delete-unannounced"):
            let body = try await request.collectBody(upTo: 1 << 16)
            let parsed: UnannouncedRequest
            do {
                parsed = body.readableBytes == 0 ? UnannouncedRequest() : try JSONDecoder().decode(UnannouncedRequest.self, from: Data(body.readableBytesView))
            } catch {
                return PlainResponse.error(.badRequest, "bad_request", reason: "\(error)").makeResponse()
            }
            let change: LiveChange
            if action == "delete-unannounced" {
                guard let name = parsed.name else {
                    return PlainResponse.error(.badRequest, "bad_request", reason: "\"name\" is required").makeResponse()
                }
                change = .deletion(of: name)
            } else {
                guard let named = LiveChange(kind: parsed.kind ?? "new-version", name: parsed.name) else {
                    return PlainResponse.error(
                        .badRequest, "bad_request", reason: "unknown kind '\(parsed.kind ?? "")'; known: new-version, new-package, dist-tag, deletion, unpublish"
                    ).makeResponse()
                }
                change = named
            }
            guard let applied = try self.core.publisher.publishUnannounced(change) else {
                return PlainResponse.error(.conflict, "conflict", reason: "\(change) does not apply: no such package, or nothing to change").makeResponse()
            }
            return try Self.json(UnannouncedResult(change: applied, updateSeq: self.core.model.databaseInfo().updateSeq))
        case (.get, "notable"):
            return try Self.json(self.core.notable)
        default:
            return PlainResponse.error(.notFound, "not_found", reason: "no admin endpoint \(request.method) /-/admin/\(action)").makeResponse()
        }
    }

    private func faultState() -> FaultState {
        return FaultState(
            rules: self.core.faults.rules,
            stallFeed: self.core.model.isStalled,
            replicaLagSeconds: self.core.model.replicaLag / .seconds(1),
            fired: self.core.faults.firedCounts
        )
    }

    private static func json(_ value: some Encodable) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(value)
        return PlainResponse.json(.ok, ByteBuffer(bytes: data)).makeResponse()
    }
}
