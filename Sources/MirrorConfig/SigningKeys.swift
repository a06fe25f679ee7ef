import MirrorSignatures

extension MirrorConfiguration {
    /// The registry keys the mirror trusts: the file `NPM_SIGNING_KEYS` names (a document in the
    /// shape of `/-/npm/v1/keys`), or npm's two keys built in. The consumer verifies with them and
    /// `npm-mirror serve` answers `/-/npm/v1/keys` with them.
    ///
    /// - Throws: ``ConfigurationError`` naming `NPM_SIGNING_KEYS` for a file that cannot be read or
    ///   is not a keys document.
    public func trustedSigningKeys() throws(ConfigurationError) -> TrustedKeys {
        guard let file = consumer.signatures.keysFile else { return .npmBuiltIn }
        do {
            return try TrustedKeys(contentsOfFile: file)
        } catch {
            throw ConfigurationError(setting: .npmSigningKeys, source: sources[.npmSigningKeys] ?? .environment, problem: "\(file): \(error)")
        }
    }
}
