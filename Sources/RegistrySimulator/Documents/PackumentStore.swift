import NIOCore
import Synchronization

/// Renders packuments on demand and caches the bytes per (revision, form).
final class PackumentStore: Sendable {
    enum Form: Sendable, Hashable {
        case full
        case abbreviated

        var contentType: String {
            switch self {
            case .full: return "application/json"
            case .abbreviated: return "application/vnd.npm.install-v1+json"
            }
        }
    }

    private struct Key: Hashable {
        var name: String
        var rev: String
        var form: Form
    }

    private struct Cache {
        var documents: [Key: ByteBuffer] = [:]
        var bytes = 0
    }

    private let cache = Mutex(Cache())
    private let tarballs: TarballStore
    private let signing: RegistrySigning
    private let byteLimit: Int

    init(tarballs: TarballStore, signing: RegistrySigning, byteLimit: Int) {
        self.tarballs = tarballs
        self.signing = signing
        self.byteLimit = byteLimit
    }

    /// Forgets the rendered documents of `name` (its signatures changed).
    func forget(_ name: String) {
        cache.withLock { cache in
            for key in cache.documents.keys where key.name == name {
                cache.bytes -= cache.documents.removeValue(forKey: key)?.readableBytes ?? 0
            }
        }
    }

    /// The document for `revision`, or `nil` when it is deleted.
    func document(_ revision: PackageRevision, form: Form, registryURL: String) async throws -> ByteBuffer? {
        let key = Key(name: revision.name, rev: revision.rev, form: form)
        if let cached = self.cache.withLock({ $0.documents[key] }) {
            return cached
        }
        let renderer = PackumentRenderer(registryURL: registryURL, signing: signing)
        let document: ByteBuffer
        switch revision.content {
        case .deleted:
            return nil
        case .generated(let package):
            let infos = try await self.tarballInfos(for: package)
            switch form {
            case .full: document = renderer.full(package, rev: revision.rev, tarballs: infos)
            case .abbreviated: document = renderer.abbreviated(package, tarballs: infos)
            }
        case .unpublished(let package):
            document = renderer.unpublished(package, rev: revision.rev)
        case .recorded(let package):
            switch form {
            case .full: document = renderer.rewritingTarballLinks(package.json)
            case .abbreviated: document = renderer.rewritingTarballLinks(package.abbreviatedJSON ?? package.json)
            }
        }
        self.cache.withLock { cache in
            let size = document.readableBytes
            guard size <= self.byteLimit else { return }
            if cache.bytes + size > self.byteLimit {
                cache.documents.removeAll(keepingCapacity: true)
                cache.bytes = 0
            }
            if cache.documents.updateValue(document, forKey: key) == nil {
                cache.bytes += size
            }
        }
        return document
    }

    /// Digests of every version's tarball, building the missing ones two at a time.
    func tarballInfos(for package: GeneratedPackage) async throws -> [String: TarballInfo] {
        let tarballs = self.tarballs
        return try await withThrowingTaskGroup(of: (String, TarballInfo).self) { group in
            var infos: [String: TarballInfo] = [:]
            var pending = package.versions.makeIterator()
            for _ in 0..<2 {
                guard let version = pending.next() else { break }
                group.addTask { (version.version, try await tarballs.info(.generated(version.tarball))) }
            }
            while let (version, info) = try await group.next() {
                infos[version] = info
                if let next = pending.next() {
                    group.addTask { (next.version, try await tarballs.info(.generated(next.tarball))) }
                }
            }
            return infos
        }
    }
}
