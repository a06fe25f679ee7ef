/// Package URLs (github.com/package-url/purl-spec) as in-toto subjects name npm packages.
public enum PackageURL {
    /// `pkg:npm/<name>@<version>`, the `@` of a scope written `%40`: `pkg:npm/sigstore@1.0.0`,
    /// `pkg:npm/%40scope/pkg@1.0.0` — what npm-package-arg's `toPurl` gives pacote.
    public static func npm(name: String, version: String) -> String {
        let encodedName = name.hasPrefix("@") ? "%40" + name.dropFirst() : Substring(name)
        return "pkg:npm/\(encodedName)@\(version)"
    }
}
