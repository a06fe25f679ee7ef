import Crypto
import Foundation
import MirrorRecords
import MirrorServe
import MirrorSignatures
import MirrorStore
import MirrorTestSupport
import Testing

/// `npm-mirror serve` and the registry's signatures (issue #17): `/-/npm/v1/keys` answers the keys
/// the mirror trusts, `/-/npm/v1/attestations/<name>@<version>` the response the consumer stored,
/// served documents point `dist.attestations.url` at the mirror and keep `dist.signatures` byte for
/// byte.
@Suite("npm-mirror serve: keys, signatures and attestations", .timeLimit(.minutes(2)))
struct SigningEndpointTests {
    static let signer = RegistrySigner(privateKey: P256.Signing.PrivateKey())

    /// A store with `@scope/signed` 1.0.0: signed, with attestations stored.
    static func signedStore() throws -> (store: TestStore, signatures: String, attestations: [UInt8]) {
        let store = try TestStore()
        let tarball = Array("the tarball's bytes".utf8)
        let integrity = "sha512-" + Data(SHA512.hash(data: tarball)).base64EncodedString()
        let signature = try signer.distSignature(packageName: "@scope/signed", version: "1.0.0", integrity: integrity)
        // Written by hand, odd spacing included: the served bytes of `signatures` must be these.
        let signatures = #"[ {"keyid":"\#(signature.keyid)",  "sig":"\#(signature.sig)"} ]"#
        let packument = """
            {"_id":"@scope/signed","_rev":"1-a","name":"@scope/signed","dist-tags":{"latest":"1.0.0"},
             "versions":{"1.0.0":{"name":"@scope/signed","version":"1.0.0","dist":{"integrity":"\(integrity)",
               "tarball":"https://registry.npmjs.org/@scope/signed/-/signed-1.0.0.tgz","signatures":\(signatures),
               "attestations":{"url":"https://registry.npmjs.org/-/npm/v1/attestations/@scope%2fsigned@1.0.0","provenance":{"predicateType":"https://slsa.dev/provenance/v1"}}}}},
             "time":{"created":"2025-02-01T00:00:00.000Z","modified":"2025-02-01T00:00:00.000Z","1.0.0":"2025-02-01T00:00:00.000Z"}}
            """
        try store.packument("@scope/signed", rev: "1-a", Array(packument.utf8))
        try store.tarball("@scope/signed", "1.0.0", tarball)
        let attestations = try signer.attestationsResponse(packageName: "@scope/signed", version: "1.0.0", integrity: integrity).json.serializedBytes
        try store.store.storeAttestations(name: "@scope/signed", version: "1.0.0", json: attestations)
        return (store, signatures, attestations)
    }

    @Test("/-/npm/v1/keys answers the trusted keys: npm's by default, the configured ones otherwise")
    func keys() async throws {
        let (store, _, _) = try Self.signedStore()
        try await withServer(store: store) { server in
            let response = try await server.get("/-/npm/v1/keys")
            #expect(response.status == 200 && response.header("Content-Type") == "application/json")
            #expect(try TrustedKeys(keysDocument: response.body) == .npmBuiltIn)
        }
        try await withServer(store: store, { $0.signingKeys = Self.signer.trustedKeys }) { server in
            let response = try await server.get("/-/npm/v1/keys")
            #expect(response.body == Self.signer.trustedKeys.keysDocumentBytes)
        }
    }

    @Test("served documents keep dist.signatures byte for byte and point dist.attestations.url at the mirror, which answers the stored response")
    func attestations() async throws {
        let (store, signatures, attestations) = try Self.signedStore()
        try await withServer(store: store, { $0.publicURL = "https://mirror.example" }) { server in
            for accept in ["application/json", "application/vnd.npm.install-v1+json"] {
                let response = try await server.get("/@scope%2fsigned", [("Accept", accept)])
                #expect(response.status == 200)
                let text = String(decoding: response.body, as: UTF8.self)
                #expect(text.contains(#""signatures":\#(signatures)"#), "\(accept): signatures unchanged")
                let dist = try response.json()["versions"]?["1.0.0"]?["dist"]
                #expect(dist?["attestations"]?["url"] == "https://mirror.example/-/npm/v1/attestations/@scope%2fsigned@1.0.0")
                #expect(dist?["attestations"]?["provenance"]?["predicateType"] == "https://slsa.dev/provenance/v1")
            }
            for path in ["/-/npm/v1/attestations/@scope%2fsigned@1.0.0", "/-/npm/v1/attestations/@scope%2Fsigned@1.0.0"] {
                let answer = try await server.get(path)
                #expect(answer.status == 200 && answer.body == attestations, "\(path)")
                let verdict = ProvenanceVerifier(keys: Self.signer.trustedKeys).verify(
                    attestationsBody: answer.body, packageName: "@scope/signed", version: "1.0.0",
                    integrity: "sha512-" + Data(SHA512.hash(data: Array("the tarball's bytes".utf8))).base64EncodedString(), publishedAt: nil)
                #expect(verdict.verdict == .verified)
            }
            #expect(try await server.get("/-/npm/v1/attestations/@scope%2fsigned@2.0.0").status == 404)
            #expect(try await server.get("/-/npm/v1/attestations/nothing-here@1.0.0").status == 404)
            #expect(try await server.get("/-/npm/v1/attestations/@scope%2fsigned").status == 400)
            #expect(try await server.get("/-/npm/v1/attestations/..%2f..%2fetc@1.0.0").status == 400)
            #expect(try await server.get("/-/npm/v1/attestations/Bad Name@1.0.0").status == 400)
        }
    }
}
