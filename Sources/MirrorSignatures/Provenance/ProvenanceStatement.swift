import Foundation
import MirrorJSON

/// Where a version was built, as its SLSA provenance statement says: the repository, the commit and
/// the workflow file. Read from the attestations response the consumer stored (`GET
/// /-/npm/v1/attestations/<name>@<version>`): the statement is the base64 payload of the SLSA
/// bundle's DSSE envelope. Both predicate versions npm has used are read: v0.2
/// (`invocation.configSource`) and v1 (`buildDefinition.externalParameters.workflow` and
/// `resolvedDependencies`). The signature is not checked here: the consumer's verdict says that.
public enum ProvenanceStatement {
    /// The repository, commit and workflow file a version's provenance names.
    public struct Source: Sendable, Equatable {
        public var repository: String?
        public var commit: String?
        public var workflow: String?

        public init(repository: String?, commit: String?, workflow: String?) {
            self.repository = repository
            self.commit = commit
            self.workflow = workflow
        }
    }

    /// The source of the first SLSA provenance statement of a stored attestations response; nil
    /// when it holds none that can be read.
    public static func source(attestations bytes: [UInt8]) -> Source? {
        guard let response = try? JSONValue(parsing: bytes) else { return nil }
        for attestation in response["attestations"]?.arrayValue ?? [] {
            guard let type = attestation["predicateType"]?.stringValue, type.hasPrefix("https://slsa.dev/provenance/"),
                let payload = attestation["bundle"]?["dsseEnvelope"]?["payload"]?.stringValue,
                let decoded = Data(base64Encoded: payload), let statement = try? JSONValue(parsing: Array(decoded)),
                let predicate = statement["predicate"]
            else { continue }
            if let workflow = predicate["buildDefinition"]?["externalParameters"]?["workflow"] {
                let commit = predicate["buildDefinition"]?["resolvedDependencies"]?.arrayValue?.first?["digest"]?["gitCommit"]?.stringValue
                return .init(repository: workflow["repository"]?.stringValue, commit: commit, workflow: workflow["path"]?.stringValue)
            }
            if let configSource = predicate["invocation"]?["configSource"] {
                // `git+https://github.com/owner/repo@refs/tags/v1.0.0`, entry point `owner/repo/<path>@<ref>`.
                var repository = configSource["uri"]?.stringValue
                if let uri = repository {
                    var text = uri.hasPrefix("git+") ? String(uri.dropFirst(4)) : uri
                    if let at = text.range(of: "@", options: .backwards), text[..<at.lowerBound].contains("://") { text = String(text[..<at.lowerBound]) }
                    repository = text
                }
                var workflow = configSource["entryPoint"]?.stringValue
                if let entry = workflow {
                    let withoutRef = entry.split(separator: "@", maxSplits: 1).first.map(String.init) ?? entry
                    let parts = withoutRef.split(separator: "/", maxSplits: 2)
                    workflow = parts.count == 3 ? String(parts[2]) : withoutRef
                }
                return .init(repository: repository, commit: configSource["digest"]?["sha1"]?.stringValue, workflow: workflow)
            }
        }
        return nil
    }
}
