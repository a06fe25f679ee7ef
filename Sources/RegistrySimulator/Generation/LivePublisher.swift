import Foundation
import ServiceLifecycle
import MirrorRuntime
import Synchronization

/// A change to make to the registry while it runs.
public struct LiveChange: Sendable, Hashable, CustomStringConvertible {
    enum Action: Sendable, Hashable {
        case random
        case newVersion(String?)
        case newPackage(String?)
        case distTagMove(String?, tag: String?)
        case deletion(String?)
        case unpublish(String?)
    }

    let action: Action

    /// One of the others, picked by the seeded generator: mostly new versions, then new
    /// packages and dist-tag moves, a few deletions and unpublishes.
    public static let random = LiveChange(action: .random)

    /// Publishes the next version of `name` (a random package when `nil`) and moves `latest`.
    public static func newVersion(of name: String? = nil) -> LiveChange {
        LiveChange(action: .newVersion(name))
    }

    /// Creates a package (named by the generator when `name` is `nil`) with one version.
    public static func newPackage(named name: String? = nil) -> LiveChange {
        LiveChange(action: .newPackage(name))
    }

    /// Points a dist-tag (`next`/`beta`/`latest` when `tag` is `nil`) at another version.
    public static func distTagMove(of name: String? = nil, tag: String? = nil) -> LiveChange {
        LiveChange(action: .distTagMove(name, tag: tag))
    }

    /// Deletes the document (`deleted: true` in the feed, 404 from the registry).
    public static func deletion(of name: String? = nil) -> LiveChange {
        LiveChange(action: .deletion(name))
    }

    /// Unpublishes every version, leaving the `time.unpublished` stub.
    public static func unpublish(of name: String? = nil) -> LiveChange {
        LiveChange(action: .unpublish(name))
    }

    public var description: String {
        switch self.action {
        case .random: return "random"
        case .newVersion(let name): return "new-version(\(name ?? "*"))"
        case .newPackage(let name): return "new-package(\(name ?? "*"))"
        case .distTagMove(let name, let tag): return "dist-tag(\(name ?? "*"), \(tag ?? "*"))"
        case .deletion(let name): return "deletion(\(name ?? "*"))"
        case .unpublish(let name): return "unpublish(\(name ?? "*"))"
        }
    }
}

extension LiveChange {
    /// The change a `kind` word of ``PublishedChange`` names (`new-version`, `new-package`, `dist-tag`,
    /// `deletion`, `unpublish`) for `name` (a random package when nil); nil for another word.
    init?(kind: String, name: String?) {
        switch kind {
        case "new-version": self = .newVersion(of: name)
        case "new-package": self = .newPackage(named: name)
        case "dist-tag": self = .distTagMove(of: name)
        case "deletion": self = .deletion(of: name)
        case "unpublish": self = .unpublish(of: name)
        default: return nil
        }
    }
}

/// What a live change did.
public struct PublishedChange: Sendable, Hashable, Codable {
    /// The change's seq in the feed.
    public var seq: Int
    /// The package (`id` in the feed).
    public var name: String
    /// The new `_rev`.
    public var rev: String
    /// `new-version`, `new-package`, `dist-tag`, `deletion` or `unpublish`.
    public var kind: String
    /// The version published or tagged, if any.
    public var version: String?
    public var deleted: Bool
}

/// What a change the feed never announced did (`RegistrySimulator.publishUnannounced`,
/// `deleteUnannounced`): the documents changed, `_changes` did not.
public struct UnannouncedChange: Sendable, Hashable, Codable {
    /// The package.
    public var name: String
    /// The new `_rev` (what the packument and `_all_docs` now carry).
    public var rev: String
    /// `new-version`, `new-package`, `dist-tag`, `deletion` or `unpublish`.
    public var kind: String
    /// The version published or tagged, if any.
    public var version: String?
    public var deleted: Bool
}

/// Applies live changes to the model: on request (`publish`) and at a steady rate (`run`).
final class LivePublisher: Sendable {
    private struct State {
        var random: SplitMix64
        var nextIndex: Int
    }

    private let model: RegistryModel
    private let seed: UInt64
    private let protectedNames: Set<String>
    /// `Configuration.resolvableDependencies`: a new version keeps the dependencies of the version
    /// before it (which resolve), instead of drawing ranges that may not.
    private let resolvableDependencies: Bool
    private let state: Mutex<State>

    init(model: RegistryModel, seed: UInt64, firstIndex: Int, protectedNames: Set<String>, resolvableDependencies: Bool = false) {
        self.model = model
        self.resolvableDependencies = resolvableDependencies
        self.seed = seed
        self.protectedNames = protectedNames
        self.state = Mutex(State(random: SplitMix64(seed: seed, stream: "live"), nextIndex: max(firstIndex, 0) + 1_000_000))
    }

    /// Publishes `rate` random changes per second until cancelled.
    func run(rate: Double) async {
        guard rate > 0 else { return }
        let interval = Duration.seconds(1 / rate)
        var next = ContinuousClock.now
        while !Task.isCancelled {
            next += interval
            do {
                try await Task.sleep(until: next, clock: .continuous)
            } catch {
                return
            }
            _ = try? self.publish(.random)
        }
    }

    /// Runs the publisher in the simulator's service group until graceful shutdown.
    struct Service: ServiceLifecycle.Service {
        let publisher: LivePublisher
        let rate: Double

        func run() async throws {
            _ = try? await cancelledByGracefulShutdown {
                await self.publisher.run(rate: self.rate)
            }
        }
    }

    /// What one change did, announced or not.
    struct Applied {
        var record: RegistryModel.ChangeRecord
        var kind: String
        var version: String?
    }

    /// Applies `change` and announces it in the feed; `nil` when it could not apply (no such package,
    /// nothing to move).
    @discardableResult
    func publish(_ change: LiveChange) throws -> PublishedChange? {
        try self.apply(change, announce: true).map { applied in
            // Announced, so the feed gave it a seq.
            PublishedChange(
                seq: applied.record.seq!, name: applied.record.name, rev: applied.record.rev,
                kind: applied.kind, version: applied.version, deleted: applied.record.deleted
            )
        }
    }

    /// Applies `change` without a feed entry (see `RegistryModel.update(_:now:announce:_:)`); `nil` when
    /// it could not apply.
    func publishUnannounced(_ change: LiveChange) throws -> UnannouncedChange? {
        try self.apply(change, announce: false).map { applied in
            UnannouncedChange(
                name: applied.record.name, rev: applied.record.rev,
                kind: applied.kind, version: applied.version, deleted: applied.record.deleted
            )
        }
    }

    private func apply(_ change: LiveChange, announce: Bool) throws -> Applied? {
        let now = Timestamp(milliseconds: Int64(Date().timeIntervalSince1970 * 1000))
        var random = self.state.withLock { state in
            let derived = SplitMix64(seed: state.random.next())
            return derived
        }
        var action = change.action
        if case .random = action {
            let roll = random.unit()
            action =
                roll < 0.50 ? .newVersion(nil)
                : roll < 0.70 ? .newPackage(nil)
                : roll < 0.90 ? .distTagMove(nil, tag: nil)
                : roll < 0.97 ? .deletion(nil)
                : .unpublish(nil)
        }
        switch action {
        case .random:
            return nil
        case .newPackage(let name):
            return self.newPackage(named: name, now: now, announce: announce, random: &random)
        case .newVersion(let name):
            guard let name = name ?? self.pickGenerated(&random) else {
                return self.newPackage(named: nil, now: now, announce: announce, random: &random)
            }
            var published: String?
            let dependencyPool = (0..<3).compactMap { _ in self.model.randomName(using: &random) { !$0.isDeleted } }
            let record = self.model.update(name, announce: announce) { content -> PackageContent? in
                guard case .generated(var package) = content else { return nil }
                let version = RegistryGenerator.nextVersion(after: package.versions.last?.version, random: &random)
                guard package.version(version) == nil else { return nil }
                let previous = package.versions.last?.dependencies ?? []
                RegistryGenerator.appendVersion(
                    version, to: &package, at: max(now, package.modified.adding(milliseconds: 1)),
                    payloadBytes: 0, dependencyPool: self.resolvableDependencies ? [] : dependencyPool, random: &random
                )
                if self.resolvableDependencies, let last = package.versions.indices.last { package.versions[last].dependencies = previous }
                published = version
                return .generated(package)
            }
            return record.map { Applied(record: $0, kind: "new-version", version: published) }
        case .distTagMove(let name, let tag):
            guard let name = name ?? self.pickGenerated(&random, minimumVersions: 2) else { return nil }
            var moved: String?
            let record = self.model.update(name, announce: announce) { content -> PackageContent? in
                guard case .generated(var package) = content, !package.versions.isEmpty else { return nil }
                let tag = tag ?? random.pick(["next", "beta", "latest"])
                let candidates = package.versions.map(\.version).filter { $0 != package.distTag(tag) }
                guard !candidates.isEmpty else { return nil }
                let version = random.pick(candidates)
                package.setDistTag(tag, to: version)
                package.modified = max(now, package.modified.adding(milliseconds: 1))
                moved = version
                return .generated(package)
            }
            return record.map { Applied(record: $0, kind: "dist-tag", version: moved) }
        case .deletion(let name):
            guard let name = name ?? self.pickGenerated(&random) else { return nil }
            let record = self.model.update(name, announce: announce) { content -> PackageContent? in
                guard let content, !content.isDeleted else { return nil }
                return .deleted
            }
            return record.map { Applied(record: $0, kind: "deletion", version: nil) }
        case .unpublish(let name):
            guard let name = name ?? self.pickGenerated(&random) else { return nil }
            let record = self.model.update(name, announce: announce) { content -> PackageContent? in
                guard case .generated(let package) = content else { return nil }
                return .unpublished(
                    UnpublishedPackage(
                        name: package.name,
                        created: package.created,
                        modified: max(now, package.modified.adding(milliseconds: 1)),
                        versionTimes: package.versions.map { ($0.version, $0.publishedAt) },
                        maintainers: package.maintainers
                    )
                )
            }
            return record.map { Applied(record: $0, kind: "unpublish", version: nil) }
        }
    }

    private func newPackage(named name: String?, now: Timestamp, announce: Bool, random: inout SplitMix64) -> Applied? {
        // Ids starting with `_` are CouchDB's own (`_design/…`), never a package's.
        if let name, name.hasPrefix("_") { return nil }
        let index = self.state.withLock { state -> Int in
            state.nextIndex += 1
            return state.nextIndex
        }
        var profile = RegistryGenerator.Profile()
        profile.versionCount = 1
        profile.readmeBytes = random.int(in: 200...3000)
        profile.fixedName = name
        let pool = (0..<3).compactMap { _ in self.model.randomName(using: &random) { !$0.isDeleted } }
        let package = RegistryGenerator.makePackage(index: index, profile: profile, seed: self.seed, dependencyPool: pool, start: now)
        var version: String?
        let record = self.model.update(package.name, announce: announce) { existing -> PackageContent? in
            if let existing, !existing.isDeleted { return nil }
            if case .generated(let generated) = package.content { version = generated.versions.last?.version }
            return package.content
        }
        return record.map { Applied(record: $0, kind: "new-package", version: version) }
    }

    private func pickGenerated(_ random: inout SplitMix64, minimumVersions: Int = 1) -> String? {
        let protected = self.protectedNames
        var picked: String?
        for _ in 0..<4 {
            picked = self.model.randomName(using: &random) { content in
                if case .generated(let package) = content { return package.versions.count >= minimumVersions }
                return false
            }
            if let name = picked, !protected.contains(name) { return name }
        }
        return nil
    }
}
