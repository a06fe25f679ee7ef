import HTTPTypes
import NPMNames

/// What a request path asks the registry for, once it has been checked.
enum RegistryRoute: Sendable, Equatable {
    case ping
    case search
    /// `POST /-/npm/v1/security/advisories/bulk` and `/-/npm/v1/security/audits/quick`.
    case audit
    case packument(name: String)
    case version(name: String, versionOrTag: String)
    case tarball(name: String, version: String)
    /// `GET /-/npm/v1/keys`: the registry keys the mirror trusts.
    case keys
    /// `GET /-/npm/v1/attestations/<name>@<version>`: the stored attestations response.
    case attestations(name: String, version: String)
    /// `GET /`: the home page for a browser, 404 JSON for anyone else (as before there were pages).
    case root
    /// The pages under `/-/web/`.
    case web(WebRoute)

    /// The bounded label value of the route, for metrics.
    var label: String {
        switch self {
        case .ping: "ping"
        case .search: "search"
        case .audit: "audit"
        case .packument: "packument"
        case .version: "version"
        case .tarball: "tarball"
        case .keys: "keys"
        case .attestations: "attestations"
        case .root: "root"
        case .web: "web"
        }
    }
}

/// A page of the web interface.
enum WebRoute: Sendable, Equatable {
    /// `/-/web/`: the mirror at a glance and a search box.
    case home
    /// `/-/web/search?q=`.
    case search
    /// `/-/web/package/<name>` (scoped: `/-/web/package/@scope/name`).
    case package(name: String)
    /// `/-/web/package/<name>/v/<version>`.
    case version(name: String, version: String)
    /// `/-/web/style.css`.
    case stylesheet
}

/// Why a request path was refused: a status, npm's `error` code and a sentence for people.
struct RouteRejection: Error, Sendable, Equatable {
    var status: HTTPResponse.Status
    var code: String
    var reason: String

    static func badRequest(_ reason: String) -> Self { RouteRejection(status: .badRequest, code: "bad_request", reason: reason) }
    static func invalidName(_ reason: String) -> Self { RouteRejection(status: .badRequest, code: "invalid_package_name", reason: reason) }
    static let notFound = RouteRejection(status: .notFound, code: "not_found", reason: "no such endpoint on this read-only mirror")
}

/// Parsing of request paths and the paths the mirror's documents point at.
///
/// Request paths are checked before anything touches the disk: at most ``maximumPathLength`` bytes,
/// no NUL (raw or `%00`), strict percent-decoding to UTF-8, no empty, `.` or `..` segment (also when
/// written `%2e%2e`), no backslash or control character, a `%2f` only inside a scoped name, a
/// package name that npm accepts (``validatePackageName(_:)``), and a tarball file name that belongs
/// to the package and names a semantic version.
enum RegistryPaths {
    static let maximumPathLength = 1024
    static let maximumVersionLength = 256

    static func parse(path: String) throws(RouteRejection) -> RegistryRoute {
        guard path.utf8.count <= maximumPathLength else {
            throw RouteRejection(status: .uriTooLong, code: "uri_too_long", reason: "the path is longer than \(maximumPathLength) bytes")
        }
        guard path.hasPrefix("/") else { throw .badRequest("the path must start with '/' (absolute paths and URLs are not served)") }
        if path == "/" { return .root }
        if path == "/-/web/" { return .web(.home) }
        guard !path.utf8.contains(0) else { throw .badRequest("the path contains a NUL byte") }
        let rawSegments = path.utf8.split(separator: UInt8(ascii: "/"), omittingEmptySubsequences: false).dropFirst()
        guard !rawSegments.isEmpty, !(rawSegments.count == 1 && rawSegments.first!.isEmpty) else { throw .notFound }
        var segments: [String] = []
        for raw in rawSegments {
            guard !raw.isEmpty else { throw .badRequest("the path has an empty segment ('//' or a trailing '/')") }
            let segment = try decode(raw)
            guard segment != ".", segment != ".." else { throw .badRequest("the path has a '.' or '..' segment") }
            guard !segment.unicodeScalars.contains(where: { $0 == "\\" || $0.value < 0x20 || $0.value == 0x7F }) else {
                throw .badRequest("the path contains a backslash or a control character")
            }
            segments.append(segment)
        }
        if segments[0] == "-" { return try special(Array(segments.dropFirst())) }
        guard !segments[1...].contains(where: { $0.contains("/") }) else {
            throw .badRequest("an encoded '/' (%2f) is only allowed between a scope and a package name")
        }
        let name: String
        var rest: ArraySlice<String>
        if segments[0].contains("/") {
            name = segments[0]
            rest = segments[1...]
        } else if segments[0].hasPrefix("@") {
            guard segments.count >= 2 else { throw .invalidName("a scoped name needs a package after the scope: @scope/name") }
            name = segments[0] + "/" + segments[1]
            rest = segments[2...]
        } else {
            name = segments[0]
            rest = segments[1...]
        }
        try validatePackageName(name)
        if rest.isEmpty { return .packument(name: name) }
        if rest.count == 1 {
            let versionOrTag = rest.removeFirst()
            guard versionOrTag.utf8.count <= maximumVersionLength else { throw .badRequest("the version or tag is longer than \(maximumVersionLength) bytes") }
            return .version(name: name, versionOrTag: versionOrTag)
        }
        if rest.count == 2, rest.first == "-" {
            return .tarball(name: name, version: try tarballVersion(fileName: rest.last!, name: name))
        }
        throw .notFound
    }

    private static func special(_ segments: [String]) throws(RouteRejection) -> RegistryRoute {
        switch segments {
        case ["ping"]: .ping
        case ["v1", "search"]: .search
        case ["npm", "v1", "security", "advisories", "bulk"], ["npm", "v1", "security", "audits", "quick"]: .audit
        case ["npm", "v1", "keys"]: .keys
        case let parts where parts.count == 4 && parts[0...2] == ["npm", "v1", "attestations"]:
            try attestationsRoute(parts[3])
        case let parts where parts.first == "web":
            .web(try webRoute(parts.dropFirst()))
        default: throw .notFound
        }
    }

    /// `web`, `web/search`, `web/style.css`, `web/package/<name>[/v/<version>]` (a scoped name as two
    /// segments, or one with its `/` sent as `%2f`).
    private static func webRoute(_ parts: ArraySlice<String>) throws(RouteRejection) -> WebRoute {
        switch Array(parts) {
        case []: return .home
        case ["search"]: return .search
        case ["style.css"]: return .stylesheet
        case let parts where parts.first == "package" && parts.count >= 2:
            var rest = parts.dropFirst()
            var name = rest.removeFirst()
            if name.hasPrefix("@"), !name.contains("/") {
                guard let basename = rest.first else { throw .invalidName("a scoped name needs a package after the scope: @scope/name") }
                name += "/" + basename
                rest.removeFirst()
            }
            try validatePackageName(name)
            switch Array(rest) {
            case []: return .package(name: name)
            case let tail where tail.count == 2 && tail[0] == "v":
                guard !tail[1].isEmpty, tail[1].utf8.count <= maximumVersionLength else { throw .badRequest("the version must be 1 to \(maximumVersionLength) bytes") }
                return .version(name: name, version: tail[1])
            default: throw .notFound
            }
        default:
            throw .notFound
        }
    }

    /// `<name>@<version>` (the name's `/` sent as `%2f`): the version follows the last `@`.
    private static func attestationsRoute(_ spec: String) throws(RouteRejection) -> RegistryRoute {
        guard let at = spec.lastIndex(of: "@"), at > spec.startIndex else {
            throw .badRequest("attestations are asked for as <name>@<version>")
        }
        let name = String(spec[..<at])
        let version = String(spec[spec.index(after: at)...])
        try validatePackageName(name)
        guard !version.isEmpty, version.utf8.count <= maximumVersionLength else {
            throw .badRequest("the version must be 1 to \(maximumVersionLength) bytes")
        }
        return .attestations(name: name, version: version)
    }

    /// The version in a tarball file name `<basename>-<version>.tgz`, where basename is the
    /// package name without its scope.
    static func tarballVersion(fileName: String, name: String) throws(RouteRejection) -> String {
        let prefix = PackageName.basename(name) + "-"
        guard fileName.hasSuffix(".tgz") else { throw .badRequest("a tarball file name ends in .tgz") }
        guard fileName.hasPrefix(prefix), fileName.utf8.count > prefix.utf8.count + 4 else {
            throw .badRequest("the tarball file name \(fileName.prefix(100)) does not belong to the package \(name) (expected \(prefix)<version>.tgz)")
        }
        let version = String(fileName.dropFirst(prefix.count).dropLast(4))
        guard version.utf8.count <= maximumVersionLength, SemanticVersion(version) != nil, !version.hasPrefix("v"), !version.hasPrefix("=") else {
            throw .badRequest("the tarball file name \(fileName.prefix(100)) does not end in a semantic version")
        }
        return version
    }

    /// npm's rules for names (``PackageName/problem(with:)``), as a rejection.
    static func validatePackageName(_ name: String) throws(RouteRejection) {
        if let problem = PackageName.problem(with: name) { throw .invalidName(problem) }
    }

    /// Strict percent-decoding of one raw segment to UTF-8 (``URLEncoding``), no NUL in it.
    private static func decode(_ raw: some Collection<UInt8>) throws(RouteRejection) -> String {
        let text: String
        do {
            text = try URLEncoding.decode(raw)
        } catch .malformedEscape {
            throw .badRequest("the path has a malformed percent escape")
        } catch {
            throw .badRequest("the path is not UTF-8")
        }
        guard !text.utf8.contains(0) else { throw .badRequest("the path contains a NUL byte (%00)") }
        return text
    }

    // MARK: Paths the mirror's documents point at

    /// `@scope/name` or `name`, each part percent-encoded where needed.
    static func packagePath(_ name: String) -> String {
        PackageName.urlPath(name)
    }

    /// `<basename>-<version>.tgz`, percent-encoded where needed (`+` of build metadata becomes `%2B`).
    static func tarballFileName(name: String, version: String) -> String {
        escape(PackageName.basename(name)) + "-" + escape(version) + ".tgz"
    }

    /// What a package name may carry stays; everything else is percent-encoded.
    static func escape(_ text: some StringProtocol) -> String {
        URLEncoding.encode(text, keeping: .packageName)
    }
}
