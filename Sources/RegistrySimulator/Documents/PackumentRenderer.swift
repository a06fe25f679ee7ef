import MirrorJSON
import MirrorSignatures
import NIOCore
import NPMNames

/// Writes packuments in the registry's shapes: the full document
/// (`application/json`), the abbreviated "corgi" document
/// (`application/vnd.npm.install-v1+json`) and the unpublished stub.
struct PackumentRenderer {
    /// Base URL tarball links point at, without a trailing slash.
    var registryURL: String
    /// Signs generated versions (`dist.signatures`) and says which have attestations.
    var signing: RegistrySigning?

    func tarballURL(name: String, version: String) -> String {
        "\(self.registryURL)/\(name)/-/\(PackageName.basename(name))-\(version).tgz"
    }

    // MARK: Generated packages

    func full(_ package: GeneratedPackage, rev: String, tarballs: [String: TarballInfo]) -> ByteBuffer {
        let base = PackageName.basename(package.name)
        let owner = package.author.name
        var json = JSONWriter(capacity: 2048 + package.versions.count * 1400 + package.readmeBytes)
        json.object { json in
            json.field("_id", package.name)
            json.field("_rev", rev)
            json.field("name", package.name)
            json.objectField("dist-tags") { json in
                for (tag, version) in package.distTags { json.field(tag, version) }
            }
            json.objectField("versions") { json in
                for version in package.versions {
                    json.objectField(version.version) { json in
                        self.writeFullVersion(version, of: package, tarball: tarballs[version.version], into: &json)
                    }
                }
            }
            json.objectField("time") { json in
                json.field("created", package.created.iso8601)
                json.field("modified", package.modified.iso8601)
                for version in package.versions { json.field(version.version, version.publishedAt.iso8601) }
            }
            json.arrayField("maintainers") { json in
                for person in package.maintainers { Self.write(person, into: &json) }
            }
            json.field("description", package.description)
            json.field("homepage", "https://github.com/\(owner)/\(base)#readme")
            json.arrayField("keywords") { json in
                for keyword in package.keywords { json.string(keyword) }
            }
            json.objectField("repository") { json in
                json.field("type", "git")
                json.field("url", "git+https://github.com/\(owner)/\(base).git")
            }
            json.key("author")
            Self.write(package.author, into: &json)
            json.objectField("bugs") { $0.field("url", "https://github.com/\(owner)/\(base)/issues") }
            json.field("license", package.license)
            var readmeBytes = package.readmeBytes
            if let target = package.targetDocumentBytes {
                readmeBytes = max(readmeBytes, target - json.count - 80)
            }
            json.fillerString("readme", prefix: "# \(package.name)\n\n", count: readmeBytes, seed: package.seed)
            json.field("readmeFilename", "README.md")
            json.objectField("_attachments") { _ in }
        }
        return json.byteBuffer
    }

    func abbreviated(_ package: GeneratedPackage, tarballs: [String: TarballInfo]) -> ByteBuffer {
        var json = JSONWriter(capacity: 1024 + package.versions.count * 600)
        json.object { json in
            json.field("name", package.name)
            json.objectField("dist-tags") { json in
                for (tag, version) in package.distTags { json.field(tag, version) }
            }
            json.objectField("versions") { json in
                for version in package.versions {
                    json.objectField(version.version) { json in
                        json.field("name", package.name)
                        json.field("version", version.version)
                        Self.write(version.dependencies, as: "dependencies", into: &json)
                        Self.write(version.devDependencies, as: "devDependencies", into: &json)
                        if let deprecated = version.deprecated { json.field("deprecated", deprecated) }
                        json.objectField("directories") { _ in }
                        self.writeDist(version, of: package, tarball: tarballs[version.version], into: &json)
                        json.objectField("engines") { $0.field("node", ">=14") }
                        json.field("_hasShrinkwrap", false)
                    }
                }
            }
            json.field("modified", package.modified.iso8601)
        }
        return json.byteBuffer
    }

    private func writeFullVersion(
        _ version: VersionRecord,
        of package: GeneratedPackage,
        tarball: TarballInfo?,
        into json: inout JSONWriter
    ) {
        let base = PackageName.basename(package.name)
        let owner = package.author.name
        json.field("name", package.name)
        json.field("version", version.version)
        json.field("description", package.description)
        json.field("main", "index.js")
        json.objectField("scripts") { $0.field("test", "node test.js") }
        json.key("author")
        Self.write(package.author, into: &json)
        json.field("license", package.license)
        json.objectField("repository") { json in
            json.field("type", "git")
            json.field("url", "git+https://github.com/\(owner)/\(base).git")
        }
        json.objectField("engines") { $0.field("node", ">=14") }
        Self.write(version.dependencies, as: "dependencies", into: &json)
        Self.write(version.devDependencies, as: "devDependencies", into: &json)
        if let deprecated = version.deprecated { json.field("deprecated", deprecated) }
        json.field("_id", "\(package.name)@\(version.version)")
        json.field("_nodeVersion", "18.17.1")
        json.field("_npmVersion", "9.6.7")
        self.writeDist(version, of: package, tarball: tarball, into: &json)
        json.key("_npmUser")
        Self.write(package.author, into: &json)
        json.objectField("directories") { _ in }
        json.arrayField("maintainers") { json in
            for person in package.maintainers { Self.write(person, into: &json) }
        }
        json.objectField("_npmOperationalInternal") { json in
            json.field("host", "s3://npm-registry-packages")
            json.field("tmp", "tmp/\(base)_\(version.version)_\(version.publishedAt.milliseconds)_0.\(package.seed % 1_000_000)")
        }
        json.field("_hasShrinkwrap", false)
    }

    private func writeDist(_ version: VersionRecord, of package: GeneratedPackage, tarball: TarballInfo?, into json: inout JSONWriter) {
        json.objectField("dist") { json in
            if let tarball {
                json.field("integrity", tarball.integrity)
                json.field("shasum", tarball.shasum)
            }
            json.field("tarball", self.tarballURL(name: package.name, version: version.version))
            if let tarball {
                json.field("fileCount", tarball.fileCount)
                json.field("unpackedSize", tarball.unpackedSize)
            }
            if let signing, let tarball {
                let signatures = signing.signatures(name: package.name, version: version.version, integrity: tarball.integrity)
                if !signatures.isEmpty {
                    json.arrayField("signatures") { json in
                        for signature in signatures {
                            json.object { json in
                                json.field("keyid", signature.keyid)
                                json.field("sig", signature.sig)
                            }
                        }
                    }
                }
                if signing.hasAttestations(name: package.name) {
                    json.objectField("attestations") { json in
                        json.field("url", "\(self.registryURL)/-/npm/v1/attestations/\(package.name)@\(version.version)")
                        json.objectField("provenance") { $0.field("predicateType", RegistrySigning.provenancePredicateType) }
                    }
                }
            }
        }
    }

    private static func write(_ person: Person, into json: inout JSONWriter) {
        json.object { json in
            json.field("name", person.name)
            json.field("email", person.email)
        }
    }

    private static func write(_ dependencies: [Dependency], as key: String, into json: inout JSONWriter) {
        json.objectField(key) { json in
            for dependency in dependencies { json.field(dependency.name, dependency.range) }
        }
    }

    // MARK: Unpublished

    func unpublished(_ package: UnpublishedPackage, rev: String) -> ByteBuffer {
        var json = JSONWriter()
        json.object { json in
            json.field("_id", package.name)
            json.field("_rev", rev)
            json.field("name", package.name)
            json.objectField("time") { json in
                json.field("created", package.created.iso8601)
                for (version, time) in package.versionTimes { json.field(version, time.iso8601) }
                json.field("modified", package.modified.iso8601)
                json.objectField("unpublished") { json in
                    json.field("time", package.modified.iso8601)
                    json.arrayField("versions") { json in
                        for (version, _) in package.versionTimes { json.string(version) }
                    }
                }
            }
        }
        return json.byteBuffer
    }

    // MARK: Recorded

    /// Recorded documents link to registry.npmjs.org; point those links at the simulator.
    func rewritingTarballLinks(_ json: String) -> ByteBuffer {
        let rewritten = json
            .replacingAll("https://registry.npmjs.org/", with: self.registryURL + "/")
            .replacingAll("http://registry.npmjs.org/", with: self.registryURL + "/")
        return ByteBuffer(string: rewritten)
    }
}

extension String {
    func replacingAll(_ target: String, with replacement: String) -> String {
        guard !target.isEmpty, self.contains(target) else { return self }
        return self.split(separator: target, omittingEmptySubsequences: false).joined(separator: replacement)
    }
}
