import Foundation
import MirrorLockfiles

extension PinSet {
    /// The pin set of a lockfile: its registry packages (not its git, file, link or workspace
    /// entries, which are not the mirror's).
    ///
    /// - Throws: ``PinError`` naming the file when it cannot be read as a lockfile.
    public init(lockfileAt path: String, id: String? = nil, pinnedAt: String) throws(PinError) {
        let lockfile: Lockfile
        do {
            lockfile = try Lockfile.read(path: path)
        } catch {
            throw PinError("\(path): \(error)")
        }
        var packages: [String: [String]] = [:]
        for package in lockfile.registryPackages { packages[package.name, default: []].append(package.version) }
        self.init(id: id ?? Self.id(forLockfileAt: path), source: path, pinnedAt: pinnedAt, packages: packages)
    }
}
