import MirrorJSON
import Crypto
import Foundation
import NPMNames

/// Loads a registry laid out on disk (`--from DIR`) so recorded data can be replayed.
///
/// Layout:
/// ```
/// DIR/packuments/<name>.json                 e.g. foobar.json
/// DIR/packuments/@scope/<name>.json          or DIR/packuments/@scope%2F<name>.json
/// DIR/tarballs/<name>/-/<basename>-<v>.tgz   e.g. tarballs/foobar/-/foobar-1.0.0.tgz,
///                                            tarballs/@scope/name/-/name-1.0.0.tgz
/// DIR/tarballs/<basename>-<v>.tgz            (flat, also accepted)
/// ```
/// The package name is read from each document (`name`, else `_id`), not from the
/// file name. The changes feed lists every document once, ordered by `time.modified`
/// (then name), with gaps between seqs; `_rev` is the document's own when it has one,
/// else `1-<md5 of the file>`. Documents with `"_deleted": true` appear as deletions.
/// Full documents are served byte for byte, except that `https://registry.npmjs.org/`
/// links are pointed at the simulator; the abbreviated form is derived from them.
enum DirectoryRegistry {
    struct Loaded {
        var packages: [RegistryModel.InitialPackage]
        /// Package name → tarball file name → path.
        var tarballs: [String: [String: String]]
    }

    static func load(_ directory: String) throws -> Loaded {
        let root = URL(fileURLWithPath: directory)
        let packumentsDirectory = root.appendingPathComponent("packuments")
        let fileManager = FileManager.default
        var isDirectory: ObjCBool = false
        guard fileManager.fileExists(atPath: packumentsDirectory.path, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw RegistrySimulatorError.invalidDirectory("\(packumentsDirectory.path) is not a directory")
        }
        guard let enumerator = fileManager.enumerator(atPath: packumentsDirectory.path) else {
            throw RegistrySimulatorError.invalidDirectory("cannot list \(packumentsDirectory.path)")
        }
        var found: [(modified: String, package: RegistryModel.InitialPackage)] = []
        var tarballs: [String: [String: String]] = [:]
        for case let relative as String in enumerator where relative.hasSuffix(".json") {
            let path = packumentsDirectory.appendingPathComponent(relative).path
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard let document = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
                throw RegistrySimulatorError.invalidDirectory("\(path) is not a JSON object")
            }
            guard let name = (document["name"] as? String) ?? (document["_id"] as? String) else {
                throw RegistrySimulatorError.invalidDirectory("\(path) has neither name nor _id")
            }
            let time = document["time"] as? [String: Any]
            let modified = (time?["modified"] as? String) ?? ""
            let rev = (document["_rev"] as? String) ?? "1-\(Hex.encode(Self.md5(data)))"
            let versions = (document["versions"] as? [String: Any]) ?? [:]
            let content: PackageContent
            if document["_deleted"] as? Bool == true {
                content = .deleted
            } else {
                content = .recorded(
                    RecordedPackage(
                        name: name,
                        json: String(decoding: data, as: UTF8.self),
                        abbreviatedJSON: versions.isEmpty ? nil : try Self.abbreviate(document, name: name),
                        versions: Set(versions.keys)
                    )
                )
            }
            let package = RegistryModel.InitialPackage(
                name: name,
                content: content,
                generation: DocumentRevision.generation(rev) ?? 1,
                rev: rev
            )
            found.append((modified, package))
            tarballs[name] = Self.tarballFiles(for: name, versions: versions, root: root)
        }
        found.sort { ($0.modified, $0.package.name) < ($1.modified, $1.package.name) }
        return Loaded(packages: found.map(\.package), tarballs: tarballs)
    }

    /// The install ("corgi") form: name, dist-tags, modified and trimmed versions.
    static func abbreviate(_ document: [String: Any], name: String) throws -> String {
        let kept = [
            "name", "version", "deprecated", "dependencies", "optionalDependencies", "devDependencies",
            "bundleDependencies", "peerDependencies", "peerDependenciesMeta", "bin", "directories", "dist",
            "engines", "_hasShrinkwrap", "hasInstallScript", "cpu", "os", "funding", "license",
        ]
        var versions: [String: Any] = [:]
        for (version, value) in (document["versions"] as? [String: Any]) ?? [:] {
            guard let manifest = value as? [String: Any] else { continue }
            versions[version] = manifest.filter { kept.contains($0.key) }
        }
        var abbreviated: [String: Any] = ["name": name, "versions": versions]
        abbreviated["dist-tags"] = document["dist-tags"] ?? [String: Any]()
        if let modified = (document["time"] as? [String: Any])?["modified"] {
            abbreviated["modified"] = modified
        }
        let data = try JSONSerialization.data(withJSONObject: abbreviated, options: [.sortedKeys, .withoutEscapingSlashes])
        return String(decoding: data, as: UTF8.self)
    }

    private static func tarballFiles(for name: String, versions: [String: Any], root: URL) -> [String: String] {
        let fileManager = FileManager.default
        let basename = PackageName.basename(name)
        let nested = root.appendingPathComponent("tarballs").appendingPathComponent(name).appendingPathComponent("-")
        var files: [String: String] = [:]
        if let listed = try? fileManager.contentsOfDirectory(atPath: nested.path) {
            for file in listed where file.hasSuffix(".tgz") {
                files[file] = nested.appendingPathComponent(file).path
            }
        }
        for version in versions.keys {
            let file = "\(basename)-\(version).tgz"
            let flat = root.appendingPathComponent("tarballs").appendingPathComponent(file).path
            if files[file] == nil, fileManager.fileExists(atPath: flat) {
                files[file] = flat
            }
        }
        return files
    }

    private static func md5(_ data: Data) -> [UInt8] {
        Array(Insecure.MD5.hash(data: data))
    }
}
