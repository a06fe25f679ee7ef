import Synchronization
import NPMNames

/// The state both services share: documents, tarballs, faults, the request log.
final class SimulatorCore: Sendable {
    let configuration: RegistrySimulator.Configuration
    let model: RegistryModel
    let tarballs: TarballStore
    let packuments: PackumentStore
    /// The registry's keys, signatures and attestations.
    let signing: RegistrySigning
    let faults: FaultInjector
    let log: RequestLog
    let publisher: LivePublisher
    let notable: NotablePackages
    /// Tarball files of recorded packages: package name → file name → path.
    let recordedTarballs: [String: [String: String]]
    private let baseURLs = Mutex<(registry: String, replicate: String)>(("", ""))

    init(configuration: RegistrySimulator.Configuration) throws {
        self.configuration = configuration
        let initial: [RegistryModel.InitialPackage]
        if let directory = configuration.directory {
            let loaded = try DirectoryRegistry.load(directory)
            initial = loaded.packages
            self.recordedTarballs = loaded.tarballs
            self.notable = NotablePackages()
        } else {
            let generator = RegistryGenerator(
                packageCount: configuration.packages,
                seed: configuration.seed,
                hugePackumentBytes: configuration.hugePackumentBytes,
                hugeTarballBytes: configuration.hugeTarballBytes,
                resolvableDependencies: configuration.resolvableDependencies
            )
            let generated = generator.generate()
            initial = generated.packages
            self.notable = generated.notable
            self.recordedTarballs = [:]
        }
        self.model = RegistryModel(packages: initial, seed: configuration.seed, replicaLag: configuration.replicaLag)
        self.tarballs = TarballStore(byteLimit: configuration.tarballCacheBytes)
        self.signing = RegistrySigning(seed: configuration.seed, faults: configuration.signatureFaults)
        self.packuments = PackumentStore(tarballs: self.tarballs, signing: self.signing, byteLimit: configuration.packumentCacheBytes)
        self.faults = FaultInjector(rules: configuration.faults, seed: configuration.faultSeed ?? configuration.seed)
        self.log = RequestLog(capacity: configuration.requestLogCapacity)
        var protected: Set<String> = []
        if let name = self.notable.hugePackument { protected.insert(name) }
        if let name = self.notable.hugeTarball { protected.insert(name) }
        self.publisher = LivePublisher(
            model: self.model,
            seed: configuration.seed,
            firstIndex: configuration.packages,
            protectedNames: protected,
            resolvableDependencies: configuration.resolvableDependencies
        )
        if configuration.stallFeed {
            self.model.setStalled(true)
        }
    }

    var registryURL: String {
        self.baseURLs.withLock { $0.registry }
    }

    var replicateURL: String {
        self.baseURLs.withLock { $0.replicate }
    }

    func setBaseURLs(registry: String, replicate: String) {
        self.baseURLs.withLock { $0 = (registry, replicate) }
    }

    /// Where the bytes of `/<name>/-/<file>` come from, if that tarball exists.
    func tarballSource(name: String, file: String) -> TarballSource? {
        for revision in self.model.revisions(of: name) {
            switch revision.content {
            case .generated(let package):
                let base = PackageName.basename(name)
                if let version = package.versions.first(where: { "\(base)-\($0.version).tgz" == file }) {
                    return .generated(version.tarball)
                }
            case .recorded:
                if let path = self.recordedTarballs[name]?[file] {
                    return .file(path: path)
                }
            case .deleted, .unpublished:
                return nil
            }
        }
        return nil
    }
}
