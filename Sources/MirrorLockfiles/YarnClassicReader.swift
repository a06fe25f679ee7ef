/// Reads the `yarn.lock` of Yarn 1 (``YarnClassicParser`` reads the text).
///
/// Each top-level block lists descriptors (`name@range`, `alias@npm:real@range`, `name@file:…`)
/// and the package they resolve to: `version`, `resolved` (a tarball URL with `#<sha1 hex>`, a git
/// URL, a codeload.github.com archive) and `integrity`. A block whose descriptors name different
/// packages (Yarn before 1.21 grouped by resolved URL, so an alias and the real name can share
/// one) gives one entry per distinct name and alias.
///
/// The source comes from the descriptor's range for `link:` and `file:`, otherwise from
/// `resolved`; a git range without `resolved` is git. When a tarball has no `integrity` field
/// (lockfiles of old Yarn versions), the sha1 in the `resolved` URL's fragment is given as the
/// entry's integrity (`sha1-<base64>`): it is a digest of the tarball too.
struct YarnClassicReader {
    var context: ReadContext

    func read(_ text: String) throws -> Lockfile {
        let blocks = try YarnClassicParser(context: context).parse(text)
        var entries: [LockfileEntry] = []
        for block in blocks {
            let location = block.keys.joined(separator: ", ")
            let version = block.field("version")
            let resolved = block.field("resolved")
            let writtenIntegrity = block.field("integrity")
            for descriptor in Self.descriptors(block.keys) {
                let source: LockfileEntry.Source
                if descriptor.range.hasPrefix("link:") {
                    source = .link(String(descriptor.range.dropFirst(5)))
                } else if descriptor.range.hasPrefix("file:") {
                    source = .file(String(descriptor.range.dropFirst(5)))
                } else if let resolved {
                    source = PackageSpec.source(ofResolved: resolved, name: descriptor.name, version: version)
                } else if PackageSpec.isGit(descriptor.range) {
                    source = .git(descriptor.range)
                } else {
                    source = .other("no resolved URL")
                }
                var integrity = writtenIntegrity
                if integrity == nil, let resolved, let hash = resolved.firstIndex(of: "#"),
                    source == .registry || source.isRemoteTarball,
                    let sha1 = Integrity(sha1Hex: resolved[resolved.index(after: hash)...])
                {
                    integrity = sha1.sri
                }
                let entry = LockfileEntry(
                    name: descriptor.name, alias: descriptor.alias, version: version, integrity: integrity,
                    resolved: resolved, source: source, location: location)
                entries.append(entry.validated())
            }
        }
        return Lockfile(format: .yarnClassic, formatVersion: "1", entries: entries)
    }

    struct Descriptor: Equatable {
        var name: String
        var alias: String?
        var range: String
    }

    /// The distinct (name, alias) pairs of a block's keys, with the first range of each, in order.
    static func descriptors(_ keys: [String]) -> [Descriptor] {
        var result: [Descriptor] = []
        for key in keys {
            var descriptor: Descriptor
            if let (ident, range) = PackageSpec.splitNameAndRest(Substring(key)) {
                descriptor = Descriptor(name: String(ident), alias: nil, range: String(range))
                if range.hasPrefix("npm:"), let (real, realRange) = PackageSpec.splitNameAndRest(range.dropFirst(4)) {
                    descriptor = Descriptor(
                        name: String(real), alias: real == ident ? nil : String(ident), range: String(realRange))
                }
            } else {
                descriptor = Descriptor(name: key, alias: nil, range: "")
            }
            if !result.contains(where: { $0.name == descriptor.name && $0.alias == descriptor.alias }) {
                result.append(descriptor)
            }
        }
        return result
    }
}

extension LockfileEntry.Source {
    var isRemoteTarball: Bool {
        if case .remoteTarball = self { return true }
        return false
    }
}
