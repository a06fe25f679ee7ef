import AsyncHTTPClient
import Foundation
import NIOCore
import NPMNames

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
        try await http.get(registryURL + PackageName.registryPath(name), target: .packument, accept: "application/json", maxBytes: maxBytes)
    }

    /// The registry's signing keys, `/-/npm/v1/keys`.
    public func signingKeys(maxBytes: Int = 1 << 20) async throws(RegistryError) -> ByteBuffer {
        try await http.get(registryURL + "/-/npm/v1/keys", target: .keys, maxBytes: maxBytes)
    }

    /// A version's attestations, `/-/npm/v1/attestations/<name>@<version>` on this client's
    /// registry (the URL in `dist.attestations.url` names the public registry; a mirror of another
    /// registry asks its own), with the name's `/` as `%2f`.
    public func attestations(_ name: String, version: String, maxBytes: Int = 16 << 20) async throws(RegistryError) -> ByteBuffer {
        try await http.get(registryURL + PackageName.attestationsPath(name: name, version: version), target: .attestations, maxBytes: maxBytes)
    }

    /// Starts a tarball download; the caller streams `response.body`.
    public func tarball(url: String) async throws(RegistryError) -> HTTPClientResponse {
        try await http.send(url, target: .tarball, accept: "application/octet-stream")
    }
}
