import Foundation
import NPMNames

/// The two services the simulator runs.
enum ServiceKind: String, Sendable {
    /// replicate.npmjs.com: `/`, `/registry/_changes` and `/registry/_all_docs`.
    case replicate
    /// registry.npmjs.org: packuments and tarballs.
    case registry
}

/// What a request path asks for.
enum Route: Sendable, Equatable {
    case root
    case changes
    /// `/registry/_all_docs`.
    case allDocs
    case packument(name: String)
    case tarball(name: String, file: String)
    case admin(String)
    case ping
    /// `/-/npm/v1/keys`.
    case keys
    /// `/-/npm/v1/attestations/<name>@<version>`.
    case attestations(name: String, version: String)
    case notFound

    var faultTarget: FaultTarget? {
        switch self {
        case .root: return .root
        case .changes: return .changes
        case .allDocs: return .allDocs
        case .packument: return .packument
        case .tarball: return .tarball
        case .keys: return .keys
        case .attestations: return .attestations
        case .admin, .ping, .notFound: return nil
        }
    }

    var logKind: String {
        switch self {
        case .root: return "root"
        case .changes: return "changes"
        case .allDocs: return FaultTarget.allDocs.rawValue
        case .packument: return "packument"
        case .tarball: return "tarball"
        case .keys: return "keys"
        case .attestations: return "attestations"
        case .admin: return "admin"
        case .ping, .notFound: return "other"
        }
    }

    /// Parses a raw path (no query). Scoped names may come as `/@scope%2Fname` or
    /// `/@scope/name`; tarballs are `/<name>/-/<file>.tgz`.
    static func parse(path: String, service: ServiceKind) -> Route {
        if path.hasPrefix("/-/admin/") {
            return .admin(String(path.dropFirst("/-/admin/".count)))
        }
        switch service {
        case .replicate:
            switch path {
            case "/", "/registry", "/registry/": return .root
            case "/registry/_changes": return .changes
            case "/registry/_all_docs": return .allDocs
            default: return .notFound
            }
        case .registry:
            if path == "/" { return .root }
            if path == "/-/ping" { return .ping }
            if path == "/-/npm/v1/keys" { return .keys }
            if path.hasPrefix("/-/npm/v1/attestations/") {
                // <name>@<version>, the name's `/` as %2f; the version follows the last `@`.
                guard let spec = URLEncoding.decoded(path.dropFirst("/-/npm/v1/attestations/".count)),
                    let at = spec.lastIndex(of: "@"), at > spec.startIndex
                else { return .notFound }
                return .attestations(name: String(spec[..<at]), version: String(spec[spec.index(after: at)...]))
            }
            guard let decoded = URLEncoding.decoded(path) else { return .notFound }
            var segments = decoded.split(separator: "/", omittingEmptySubsequences: true).map(String.init)
            guard let first = segments.first, !first.hasPrefix("-"), !first.hasPrefix("_") else { return .notFound }
            let name: String
            if first.hasPrefix("@") {
                guard segments.count >= 2 else { return .notFound }
                name = "\(first)/\(segments[1])"
                segments.removeFirst(2)
            } else {
                name = first
                segments.removeFirst()
            }
            if segments.isEmpty { return .packument(name: name) }
            if segments.count == 2, segments[0] == "-", segments[1].hasSuffix(".tgz") {
                return .tarball(name: name, file: segments[1])
            }
            return .notFound
        }
    }
}

/// A parsed query string.
typealias Query = QueryString
