import Foundation
import MirrorJSON

/// The body of `GET /-/npm/v1/attestations/<name>@<version>`:
/// `{"attestations":[{"predicateType": …, "bundle": {…, "dsseEnvelope": {…}}}]}`.
///
/// npm serves up to two attestations per version: the npm publish attestation, signed by the registry
/// key (``Attestation/publishPredicateType``), and, for versions published with `--provenance`, SLSA
/// provenance signed by a short-lived Sigstore certificate. ``ProvenanceVerifier`` checks them.
public struct AttestationsResponse: Sendable, Hashable {
    public var attestations: [Attestation]

    public init(attestations: [Attestation]) {
        self.attestations = attestations
    }

    /// Parses the response body. The shape is checked (every attestation has a string
    /// `predicateType` and a `bundle.dsseEnvelope` with string `payload` and `payloadType` and an
    /// array of `signatures` with a string `sig`); what the strings hold (base64, the statement, the
    /// signature) is judged by ``ProvenanceVerifier``, so a tampered attestation is a verdict, not
    /// an error. Other members are kept in ``Attestation/bundle`` and otherwise ignored.
    ///
    /// - Throws: ``SignatureFormatError`` `malformed_attestations`.
    public init(parsing bytes: some Collection<UInt8>) throws(SignatureFormatError) {
        let document: JSONValue
        do {
            document = try JSONValue(parsing: bytes)
        } catch {
            throw .malformedAttestations("the attestations response is not JSON (\(error))")
        }
        guard let entries = document["attestations"]?.arrayValue else {
            throw .malformedAttestations("the attestations response has no \"attestations\" array")
        }
        var attestations: [Attestation] = []
        for (position, entry) in entries.enumerated() {
            do {
                attestations.append(try Attestation(json: entry))
            } catch {
                throw .malformedAttestations("attestations[\(position)]: \(error.message)")
            }
        }
        self.init(attestations: attestations)
    }

    /// The predicate types, in order (`https://slsa.dev/provenance/v0.2`, the publish attestation's, …).
    public var predicateTypes: [String] { attestations.map(\.predicateType) }

    /// The publish attestations (normally one).
    public var publishAttestations: [Attestation] {
        attestations.filter { $0.predicateType == Attestation.publishPredicateType }
    }

    /// The response as JSON, `{"attestations":[…]}`: the body to serve.
    public var json: JSONValue { ["attestations": .array(attestations.map(\.json))] }
}

/// One attestation of an ``AttestationsResponse``: its predicate type and its Sigstore bundle.
public struct Attestation: Sendable, Hashable {
    /// The npm publish attestation's predicate type, signed with the registry key.
    public static let publishPredicateType = "https://github.com/npm/attestation/tree/main/specs/publish/v0.1"
    /// SLSA provenance v0.2 (npm's `--provenance` until npm 9.x).
    public static let slsaProvenanceV02PredicateType = "https://slsa.dev/provenance/v0.2"
    /// SLSA provenance v1.
    public static let slsaProvenanceV1PredicateType = "https://slsa.dev/provenance/v1"
    /// The bundle media type npm's publish attestations carry.
    public static let bundleMediaType = "application/vnd.dev.sigstore.bundle+json;version=0.1"

    /// `predicateType` as the response states it (not signed: the signed one is the statement's).
    public let predicateType: String
    /// The whole bundle as received.
    public let bundle: JSONValue
    /// `bundle.dsseEnvelope`.
    public let envelope: DSSEEnvelope
    /// `bundle.verificationMaterial.tlogEntries[0].integratedTime` (seconds since 1970, a string in
    /// npm's bundles), when present: the time pacote checks a key's expiry against for attestations.
    public let integratedTime: Date?

    /// An attestation from its JSON, `{"predicateType": …, "bundle": {…}}`.
    ///
    /// - Throws: ``SignatureFormatError`` `malformed_attestations` when the shape is not that.
    public init(json: JSONValue) throws(SignatureFormatError) {
        guard let predicateType = json["predicateType"]?.stringValue else {
            throw .malformedAttestations("no \"predicateType\" string")
        }
        guard let bundle = json["bundle"], bundle.objectValue != nil else {
            throw .malformedAttestations("no \"bundle\" object")
        }
        guard let envelope = bundle["dsseEnvelope"] else {
            throw .malformedAttestations("the bundle has no \"dsseEnvelope\"")
        }
        self.predicateType = predicateType
        self.bundle = bundle
        self.envelope = try DSSEEnvelope(json: envelope)
        let firstEntry = bundle["verificationMaterial"]?["tlogEntries"]?.arrayValue?.first
        self.integratedTime = firstEntry?["integratedTime"].flatMap { value in
            let seconds = value.stringValue.flatMap { Int64($0) } ?? value.intValue.map { Int64($0) }
            return seconds.map { Date(timeIntervalSince1970: Double($0)) }
        }
    }

    /// `{"predicateType": …, "bundle": …}`.
    public var json: JSONValue { ["predicateType": .string(predicateType), "bundle": bundle] }
}

/// A DSSE envelope (github.com/secure-systems-lab/dsse): a payload, its type, and signatures over the
/// payload's pre-authentication encoding (``preAuthenticationEncoding(payloadType:payload:)``).
public struct DSSEEnvelope: Sendable, Hashable {
    /// The payload type of in-toto statements, the only one npm's attestations carry.
    public static let inTotoPayloadType = "application/vnd.in-toto+json"

    public struct Signature: Sendable, Hashable {
        /// The signing key's id: a registry key id for the publish attestation, empty for Sigstore
        /// (certificate-signed) attestations.
        public var keyid: String
        /// Base64 of the signature: DER ECDSA, or (accepted too) raw 64-byte `r‖s`.
        public var sig: String

        public init(keyid: String, sig: String) {
            self.keyid = keyid
            self.sig = sig
        }
    }

    /// The payload, base64 as received (npm's: standard alphabet, padded; DSSE allows URL-safe too).
    public var payload: String
    public var payloadType: String
    public var signatures: [Signature]

    public init(payload: String, payloadType: String, signatures: [Signature]) {
        self.payload = payload
        self.payloadType = payloadType
        self.signatures = signatures
    }

    /// - Throws: ``SignatureFormatError`` `malformed_attestations`.
    public init(json: JSONValue) throws(SignatureFormatError) {
        guard let payload = json["payload"]?.stringValue, let payloadType = json["payloadType"]?.stringValue else {
            throw .malformedAttestations("the DSSE envelope has no \"payload\" and \"payloadType\" strings")
        }
        guard let entries = json["signatures"]?.arrayValue else {
            throw .malformedAttestations("the DSSE envelope has no \"signatures\" array")
        }
        var signatures: [Signature] = []
        for (position, entry) in entries.enumerated() {
            guard let sig = entry["sig"]?.stringValue else {
                throw .malformedAttestations("the DSSE envelope's signatures[\(position)] has no \"sig\" string")
            }
            signatures.append(Signature(keyid: entry["keyid"]?.stringValue ?? "", sig: sig))
        }
        self.init(payload: payload, payloadType: payloadType, signatures: signatures)
    }

    /// The payload's bytes (base64-decoded, standard or URL-safe); nil when ``payload`` is not base64.
    public var decodedPayload: [UInt8]? { Base64.decode(payload) }

    /// DSSE's pre-authentication encoding, the bytes a DSSE signature signs:
    /// `"DSSEv1 " + len(payloadType) + " " + payloadType + " " + len(payload) + " " + payload`, lengths
    /// in decimal bytes, `payload` the decoded bytes (not the base64).
    public static func preAuthenticationEncoding(payloadType: String, payload: [UInt8]) -> [UInt8] {
        let type = Array(payloadType.utf8)
        return Array("DSSEv1 \(type.count) ".utf8) + type + Array(" \(payload.count) ".utf8) + payload
    }

    public var json: JSONValue {
        [
            "payload": .string(payload),
            "payloadType": .string(payloadType),
            "signatures": .array(signatures.map { ["keyid": .string($0.keyid), "sig": .string($0.sig)] }),
        ]
    }
}
