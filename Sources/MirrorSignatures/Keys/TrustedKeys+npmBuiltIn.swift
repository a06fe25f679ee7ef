import Foundation

extension TrustedKeys {
    /// The public npm registry's keys, as `GET https://registry.npmjs.org/-/npm/v1/keys` lists them
    /// (the response quoted in nodejs/corepack PR #614, 2025-01-27; the same keys are in
    /// sigstore-js's TUF seeds under `registry.npmjs.org/keys.json`):
    ///
    /// - `SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA`, retired: it expires
    ///   2025-01-29T00:00:00.000Z, and stays good for versions published before then.
    /// - `SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U`, its successor (signing since
    ///   2025-01-13), with no expiry.
    ///
    /// Each key id is the key's OpenSSH fingerprint (``RegistryKey/fingerprint(of:)``); the tests check it.
    public static let npmBuiltIn: TrustedKeys = {
        // Constants: a failure here is a typo in this file, which the tests catch.
        do {
            return try TrustedKeys([
                RegistryKey(
                    keyid: "SHA256:jl3bwswu80PjjokCgh0o2w5c2U4LhQAE57gj9cz1kzA",
                    base64DER:
                        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE1Olb3zMAFFxXKHiIkQO5cJ3Yhl5i6UPp+IhuteBJbuHcA5UogKo0EWtlWwW6KSaKoTNEYL7JlCQiVnkhBktUgg==",
                    expires: Date(timeIntervalSince1970: 1_738_108_800)  // 2025-01-29T00:00:00.000Z
                ),
                RegistryKey(
                    keyid: "SHA256:DhQ8wR5APBvFHLF/+Tc+AYvPOdTpcIDqOhxsBHRwC7U",
                    base64DER:
                        "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEY6Ya7W++7aUPzvMTrezH6Ycx3c+HOKYCcNGybJZSCJq/fd7Qa8uuAKtdIkUQtQiEKERhAmE5lMMJhP8OkDOa2g==",
                    expires: nil
                ),
            ])
        } catch {
            fatalError("the built-in npm registry keys are malformed: \(error)")
        }
    }()
}
