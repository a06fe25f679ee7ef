import AsyncHTTPClient
import NIOCore

/// Fetches packuments and streams tarballs from the registry.
public struct PackageClient: Sendable {
    public let registryURL: String
    public let http: RegistryHTTP

    public init(registryURL: String, http: RegistryHTTP) {
        var registryURL = registryURL
        while registryURL.hasSuffix("/") { registryURL.removeLast() }
        self.registryURL = registryURL
        self.http = http
    }

    /// The full packument (`Accept: application/json`), at most `maxBytes` long.
    public func packument(_ name: String, maxBytes: Int) async throws(RegistryError) -> ByteBuffer {
        try await http.get(registryURL + Packument.registryPath(for: name), target: .packument, accept: "application/json", maxBytes: maxBytes)
    }

    /// Starts a tarball download; the caller streams `response.body`.
    public func tarball(url: String) async throws(RegistryError) -> HTTPClientResponse {
        try await http.send(url, target: .tarball, accept: "application/octet-stream")
    }
}
