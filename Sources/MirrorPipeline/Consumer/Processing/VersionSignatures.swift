import CoreMetrics
import Foundation
import Logging
import MirrorRuntime
import MirrorConfig
import MirrorSignatures
import MirrorStore
import NIOCore
import NPMRegistry
import Synchronization

/// The registry's signature and provenance of each version the mirror keeps (issue #17).
///
/// - **Signatures.** Every kept version's `dist.signatures` is checked against the trusted keys
///   (``SignatureVerifier``): `verified`, `missing`, `unknown_key`, `expired_key` or `invalid`. A
///   verdict is computed once per name, version, integrity, signatures and publish time, then
///   remembered (a bounded memo), so a package seen again costs nothing for the versions it had.
/// - **Policy** (`SIGNATURE_POLICY`): `record` stores every version and records its verdict;
///   `require` stores only `verified` versions (the others are skipped with `signature_<verdict>`);
///   `off` checks nothing.
/// - **Attestations.** A kept version with `dist.attestations` has its attestations response fetched
///   from the registry once, stored byte for byte (gzip'd) in the store, and verified offline
///   (``ProvenanceVerifier``): `verified`, `present_unverified`, `missing` or `invalid`. A registry
///   that answers 404 or 5xx for it is recorded (`attestations_error`), never fails the change, and
///   is asked again the next time the package changes; a stored response is verified from disk.
/// - **The registry's keys.** At start the consumer reads `/-/npm/v1/keys` and logs and counts every
///   key id it does not trust; it trusts them only with `NPM_TRUST_REGISTRY_KEYS=true`.
public final class VersionSignatures: Sendable {
    public typealias Policy = MirrorConfiguration.Signatures.Policy

    let policy: Policy
    /// Trust keys the registry serves that are not configured (`NPM_TRUST_REGISTRY_KEYS`).
    let trustRegistryKeys: Bool
    private let trusted: Mutex<TrustedKeys>
    /// Signature verdicts by name, version, integrity, publish time and signatures: at most
    /// ``memoBytes`` (about 190,000 verdicts), then it starts again.
    let memo = BoundedMemo<SignatureVerdict>(maxBytes: VersionSignatures.memoBytes)
    /// Provenance of versions whose attestations are stored, by name, version, integrity and time:
    /// at most ``memoBytes`` (the strings a provenance holds are charged too).
    let provenanceMemo = BoundedMemo<Provenance>(maxBytes: VersionSignatures.memoBytes) { provenance in
        provenance.predicateTypes.reduce(MemoryLayout<String>.stride * provenance.predicateTypes.count) { $0 + $1.utf8.count }
            + (provenance.path?.utf8.count ?? 0) + (provenance.error?.utf8.count ?? 0) + (provenance.failure?.utf8.count ?? 0)
    }
    /// The bound of each memo: 16 MiB, so the two together never hold more than 32 MiB.
    static let memoBytes = 16 << 20

    public init(policy: Policy, keys: TrustedKeys, trustRegistryKeys: Bool = false) {
        self.policy = policy
        self.trustRegistryKeys = trustRegistryKeys
        self.trusted = Mutex(keys)
    }

    /// The keys trusted now.
    var keys: TrustedKeys { trusted.withLock { $0 } }

    // MARK: Signatures

    /// The version's signature verdict (nil when the policy is `off`).
    func verdict(of version: Packument.Version, in packument: Packument) -> SignatureVerdict? {
        guard policy != .off else { return nil }
        let time = packument.time[version.version]
        var key = packument.name + "@" + version.version + ":" + (version.integrity ?? version.shasum ?? "") + "|" + (time ?? "")
        for signature in version.signatures { key += "|" + signature.keyid + "=" + signature.sig }
        if let known = memo.value(for: key) { return known }
        let verdict = SignatureVerifier(keys: keys).verify(
            packageName: packument.name, version: version.version, integrity: version.integrity, shasum: version.shasum,
            signatures: version.signatures, time: time
        )
        memo.remember(verdict, for: key)
        return verdict
    }

    /// Under `require`, why the version may not be stored (`signature_<verdict>`); nil when it may.
    func refusal(_ verdict: SignatureVerdict?) -> String? {
        guard policy == .require, let verdict, verdict != .verified else { return nil }
        return "signature_\(verdict.rawValue)"
    }

    // MARK: Provenance

    /// What became of a version's attestations.
    struct Provenance: Sendable, Hashable {
        var verdict: ProvenanceVerdict
        /// The predicate types of the stored response.
        var predicateTypes: [String] = []
        /// The stored response, relative to the store root.
        var path: String?
        /// Why the response could not be fetched (a bounded `registry_<code>`), when it could not.
        var error: String?
        /// The first failed check, when `invalid`.
        var failure: String?
    }

    /// The attestations of a kept version: verified from the stored response, or fetched, stored
    /// and verified. Never throws: a registry failure is recorded and asked again next time.
    func provenance(
        of version: Packument.Version,
        in packument: Packument,
        packages: PackageClient,
        store: PackageStore,
        logger: Logger
    ) async -> Provenance? {
        guard policy != .off else { return nil }
        guard version.attestationsURL != nil else { return Provenance(verdict: .missing) }
        // A stored response already verified: the package changed again, this version did not.
        let memoKey = packument.name + "@" + version.version + ":" + (version.integrity ?? "") + "|" + (packument.time[version.version] ?? "")
        if let known = provenanceMemo.value(for: memoKey) { return known }
        let name = packument.name
        let publishedAt = packument.time[version.version].flatMap(PublishTime.parse)
        let stored = try? await BlockingWork.run { [store] in try store.readAttestations(name: name, version: version.version) }
        let body: [UInt8]
        var path = try? store.attestationsPath(name: name, version: version.version)
        if let stored = stored ?? nil {
            body = stored
        } else {
            do {
                body = try await fetchAttestations(name, version.version, packages: packages, logger: logger)
            } catch {
                logger.warning(
                    "Could not fetch a version's attestations; recorded, and asked again when the package changes",
                    metadata: ["npm.id": "\(name)", "npm.version": "\(version.version)", "error": "\(error)"]
                )
                return Provenance(verdict: .presentUnverified, error: "registry_\(error.code)")
            }
            do {
                path = try await BlockingWork.run { [store] in try store.storeAttestations(name: name, version: version.version, json: body, deferringDirectorySync: true) }
            } catch {
                logger.warning("Could not store a version's attestations", metadata: ["npm.id": "\(name)", "npm.version": "\(version.version)", "error": "\(error)"])
                path = nil
            }
        }
        // Parsed once: the verdict and the predicate types come from the same response.
        let verifier = ProvenanceVerifier(keys: keys)
        let result: ProvenanceResult
        var types: [String] = []
        if let response = try? AttestationsResponse(parsing: body) {
            result = verifier.verify(response, packageName: name, version: version.version, integrity: version.integrity ?? "", publishedAt: publishedAt)
            types = response.predicateTypes
        } else {
            // Not a response: the body overload names the malformed response as the failure.
            result = verifier.verify(attestationsBody: body, packageName: name, version: version.version, integrity: version.integrity ?? "", publishedAt: publishedAt)
        }
        let provenance = Provenance(verdict: result.verdict, predicateTypes: types, path: path, failure: result.failure.map { "\($0.code): \($0.message)" })
        // Only a stored response is remembered: one that could not be stored is fetched again next time.
        if path != nil {
            provenanceMemo.remember(provenance, for: memoKey)
        }
        return provenance
    }

    /// Up to three tries with a short backoff: the endpoint answers 404 and 500 now and then
    /// although the field is there. A graceful shutdown lets the read in flight finish and ends the
    /// tries with the last failure.
    private func fetchAttestations(_ name: String, _ version: String, packages: PackageClient, logger: Logger) async throws(RegistryError) -> [UInt8] {
        var backoff = Backoff(base: .milliseconds(250), cap: .seconds(2))
        var last: RegistryError?
        do {
            let body = try await retrying(
                "fetch a version's attestations", backoff: &backoff, logger: logger,
                metadata: ["npm.id": "\(name)", "npm.version": "\(version)"], attempts: 3,
                count: { last = $0 as? RegistryError },
                isRetriable: { ($0 as? RegistryError).map { $0.isRetriable || $0.code == .notFound } ?? false },
                cancelledByShutdown: false
            ) {
                Array(try await packages.attestations(name, version: version).readableBytesView)
            }
            if let body { return body }
        } catch let error as RegistryError {
            throw error
        } catch {
            // `attestations` throws only RegistryError; anything else is a cancellation.
        }
        // Stopped (cancelled, or shut down between tries): the last failure stands.
        throw last ?? RegistryError(code: .connection, request: "GET attestations of \(name)@\(version)", message: "cancelled before an answer")
    }

    // MARK: The registry's keys

    /// Reads the registry's `/-/npm/v1/keys`, logs and counts (`unknownRegistryKeys`) the key ids
    /// not trusted, and trusts them when ``trustRegistryKeys``. A registry that cannot answer is
    /// logged: verification goes on with the keys configured. Returns the key ids not configured.
    @discardableResult
    func compareWithRegistry(_ packages: PackageClient, metrics: ConsumerMetrics, logger: Logger) async -> [String] {
        guard policy != .off else { return [] }
        let served: TrustedKeys
        do {
            let body = try await packages.signingKeys()
            served = try TrustedKeys(keysDocument: Array(body.readableBytesView))
        } catch {
            logger.warning("Could not read the registry's signing keys; verifying with the configured ones", metadata: ["error": "\(error)"])
            return []
        }
        let unknown = served.keys.filter { self.keys[$0.keyid] == nil }
        metrics.unknownRegistryKeys.record(unknown.count)
        for key in unknown {
            logger.warning(
                trustRegistryKeys ? "The registry serves a signing key not configured; trusting it (NPM_TRUST_REGISTRY_KEYS=true)" : "The registry serves a signing key this mirror does not trust; versions it signs are unknown_key",
                metadata: ["key.id": "\(key.keyid)", "key.expires": "\(key.expires.map(PublishTime.format) ?? "never")"]
            )
        }
        if trustRegistryKeys, !unknown.isEmpty {
            trusted.withLock { keys in
                if let merged = try? TrustedKeys(keys.keys + unknown) { keys = merged }
            }
            memo.removeAll()
            provenanceMemo.removeAll()
        }
        return unknown.map { $0.keyid }
    }
}
