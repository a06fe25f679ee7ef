import MirrorJSON
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NPMNames

/// A response before faults are applied to it.
struct PlainResponse: Sendable {
    var status: HTTPResponse.Status
    var contentType: String
    var body: ByteBuffer
    var extraHeaders: [(String, String)] = []

    static func json(_ status: HTTPResponse.Status, _ body: ByteBuffer, contentType: String = "application/json") -> Self {
        PlainResponse(status: status, contentType: contentType, body: body)
    }

    static func error(_ status: HTTPResponse.Status, _ error: String, reason: String? = nil) -> Self {
        var json = JSONWriter()
        json.object { json in
            json.field("error", error)
            if let reason { json.field("reason", reason) }
        }
        return .json(status, json.byteBuffer)
    }

    var isJSON: Bool { self.contentType.contains("json") }

    func makeResponse() -> Response {
        var headers = HTTPFields()
        headers[.contentType] = self.contentType
        for (name, value) in self.extraHeaders {
            if let field = HTTPField.Name(name) { headers[field] = value }
        }
        return Response(status: self.status, headers: headers, body: ResponseBody(byteBuffer: self.body))
    }
}

/// Answers one service's requests: routing, the registry and replicate endpoints,
/// the admin endpoints, request counting and fault injection.
struct SimulatorResponder: HTTPResponder {
    typealias Context = BasicRequestContext

    let service: ServiceKind
    let core: SimulatorCore

    func respond(to request: Request, context: Context) async throws -> Response {
        let uri = request.head.path ?? "/"
        let (rawPath, query) = QueryString.split(uri)
        let path = String(rawPath)
        let route = Route.parse(path: path, service: self.service)
        if case .admin(let action) = route {
            return try await AdminEndpoints(core: self.core).respond(to: request, action: action, query: query)
        }

        var fault: FaultRule?
        if let target = route.faultTarget {
            fault = self.core.faults.fault(for: target, path: path)
        }
        var record = RequestRecord(
            service: self.service.rawValue,
            method: request.method.rawValue,
            uri: uri,
            kind: route.logKind,
            status: 200,
            fault: fault?.kind.rawValue
        )

        let plain: PlainResponse
        if let fault, let early = await self.earlyFaultResponse(fault) {
            plain = early
        } else if request.method != .get && request.method != .head {
            plain = .error(.methodNotAllowed, "method_not_allowed", reason: "Only GET or HEAD allowed")
        } else {
            plain = try await self.answer(route, request: request, query: query)
        }
        record.status = Int(plain.status.code)
        self.core.log.record(record, path: path)
        if let fault, plain.status == .ok {
            return FaultResponses.apply(fault, to: plain)
        }
        return plain.makeResponse()
    }

    /// Faults that replace the response (or act before it).
    private func earlyFaultResponse(_ fault: FaultRule) async -> PlainResponse? {
        switch fault.kind {
        case .rateLimited:
            var response = PlainResponse.error(.tooManyRequests, "too_many_requests", reason: "rate limited (simulated)")
            response.extraHeaders.append(("Retry-After", String(fault.retryAfterSeconds ?? 1)))
            return response
        case .httpError:
            let code = fault.status ?? 500
            let names = [500: "internal_server_error", 502: "bad_gateway", 503: "service_unavailable", 504: "gateway_timeout"]
            return .error(HTTPResponse.Status(code: code), names[code] ?? "error", reason: "simulated failure")
        case .slowResponse:
            try? await Task.sleep(for: .milliseconds(fault.delayMilliseconds ?? 2000))
            return nil
        case .seqReset:
            self.core.model.resetSequence()
            return nil
        default:
            return nil
        }
    }

    private func answer(_ route: Route, request: Request, query: Query) async throws -> PlainResponse {
        switch route {
        case .root:
            let info = self.core.model.databaseInfo()
            var json = JSONWriter()
            json.object { json in
                json.field("db_name", "registry")
                json.field("engine", "npm-replicate")
                json.field("doc_count", info.docCount)
                json.field("update_seq", info.updateSeq)
            }
            return .json(.ok, json.byteBuffer)
        case .changes:
            return self.changes(query)
        case .allDocs:
            return self.allDocs(query)
        case .packument(let name):
            let accept = request.headers[.accept] ?? ""
            let form: PackumentStore.Form = accept.contains("application/vnd.npm.install-v1+json") ? .abbreviated : .full
            guard let revision = self.core.model.servedRevision(of: name),
                let document = try await self.core.packuments.document(revision, form: form, registryURL: self.core.registryURL)
            else {
                return .error(.notFound, "not_found")
            }
            return .json(.ok, document, contentType: form.contentType)
        case .tarball(let name, let file):
            guard let source = self.core.tarballSource(name: name, file: file) else {
                return .error(.notFound, "not_found")
            }
            let tarball = try await self.core.tarballs.tarball(source)
            return PlainResponse(status: .ok, contentType: "application/octet-stream", body: tarball.bytes)
        case .ping:
            return .json(.ok, ByteBuffer(string: "{}"))
        case .keys:
            return .json(.ok, ByteBuffer(bytes: self.core.signing.keysDocument))
        case .attestations(let name, let version):
            guard let revision = self.core.model.servedRevision(of: name), case .generated(let package) = revision.content,
                let record = package.versions.first(where: { $0.version == version }),
                let info = try await self.core.packuments.tarballInfos(for: package)[record.version]
            else {
                return .error(.notFound, "not_found")
            }
            switch self.core.signing.attestations(name: name, version: version, integrity: info.integrity) {
            case .body(let body): return .json(.ok, ByteBuffer(bytes: body))
            case .status(404): return .error(.notFound, "not_found")
            case .status(let code): return .error(HTTPResponse.Status(code: code), "internal_server_error", reason: "simulated attestation failure")
            }
        case .admin, .notFound:
            return self.service == .replicate ? .error(.notFound, "not_found", reason: "missing") : .error(.notFound, "not_found")
        }
    }

    /// `GET /registry/_changes?since=N&limit=L`, with the real service's restrictions.
    private func changes(_ query: Query) -> PlainResponse {
        for unsupported in ["feed", "include_docs", "timeout"] where query.contains(unsupported) {
            return .error(.badRequest, "bad_request", reason: "'\(unsupported)' is not supported; poll with since and limit")
        }
        var since = 0
        if let value = query["since"] {
            guard let parsed = Int(value), parsed >= 0 else {
                return .error(.badRequest, "bad_request", reason: "since must be a non-negative integer seq, got '\(value)'")
            }
            since = parsed
        }
        var limit = 1000
        if let value = query["limit"] {
            guard let parsed = Int(value), (1...10_000).contains(parsed) else {
                return .error(.badRequest, "bad_request", reason: "limit must be an integer between 1 and 10000, got '\(value)'")
            }
            limit = parsed
        }
        let page = self.core.model.changes(since: since, limit: limit)
        var json = JSONWriter(capacity: 128 + page.results.count * 96)
        json.object { json in
            json.arrayField("results") { json in
                for entry in page.results {
                    json.object { json in
                        json.field("seq", entry.seq)
                        json.field("id", entry.id)
                        json.arrayField("changes") { $0.object { $0.field("rev", entry.rev) } }
                        if entry.deleted { json.field("deleted", true) }
                    }
                }
            }
            json.field("last_seq", page.lastSeq)
        }
        return .json(.ok, json.byteBuffer)
    }
}
