import Foundation
import HTTPTypes
import Hummingbird
import Logging
import MirrorJSON
import MirrorRecords
import MirrorRuntime
import MirrorSignatures
import MirrorStore
import MirrorWeb
import NIOCore
import NPMNames
import Synchronization

/// The web pages: HTML for people, from the same store and records the registry answers from. A
/// page reads the package record and the small summary derived beside the served documents
/// (``WebSummary``), never the packument.
extension RegistryServerCore {
    /// Versions whose attestations are read for their repository and workflow, per page.
    static let provenanceSourcesPerPage = 20
    static let changesPerPage = 15
    /// Versions listed on a package page, newest first; the rest are counted.
    static let versionsPerPage = 250

    func web(_ route: WebRoute, request: Request, query: [(name: String, value: String)], base: String) async throws -> RegistryAnswer {
        switch route {
        case .stylesheet:
            var answer = RegistryAnswer(status: .ok, body: .bytes(Array(Stylesheet.css.utf8)))
            answer.headers[.contentType] = "text/css; charset=utf-8"
            answer.headers[.cacheControl] = "public, max-age=3600"
            return answer
        case .home:
            return .html(.ok, WebPages.render(await homePage(base: base)))
        case .search:
            return .html(.ok, WebPages.render(try await searchPage(query, base: base)))
        case .package(let name):
            // The page as it was, while the served documents and the record are what they were: a
            // package with thousands of versions is rendered once per change, not per view.
            let (record, unreadable) = await readRecord(name)
            let entry = try await documents.entry(name: name, tarballBase: base)
            guard record != nil || entry != nil else { return notFoundPage(name) }
            let stamp = [
                name, base, entry?.key ?? "-", record?["processed_at"]?.stringValue ?? "-",
                record?["last_seq"]?.intValue.map(String.init) ?? "-", unreadable ? "unreadable" : "",
            ].joined(separator: "\n")
            let html = await pages.value(for: stamp) { [self] in
                guard let page = try? await packagePage(name, base: base, record: record, recordsUnreadable: unreadable, entry: entry) else { return nil }
                return ByteBuffer(string: WebPages.render(page))
            }
            guard let html else { return .html(.internalServerError, WebPages.render(MessagePage(title: "Not available", message: "The page of \(name) could not be made; see the server's log."))) }
            return .html(.ok, html)
        case .version(let name, let version):
            guard let page = try await versionPage(name, version, base: base) else { return notFoundPage("\(name)@\(version)") }
            return .html(.ok, WebPages.render(page))
        }
    }

    private func notFoundPage(_ what: String) -> RegistryAnswer {
        .html(.notFound, WebPages.render(MessagePage(title: "Not found", message: "This mirror holds nothing under \(what).")))
    }

    // MARK: Home

    private func homePage(base: String) async -> HomePage {
        var figures: [Figure] = []
        let counts = overview.counts()
        if let counts {
            figures.append(Figure("packages", Self.number(counts.packages)))
            figures.append(Figure("versions held", Self.number(counts.versionsHeld)))
            figures.append(Figure("tarball bytes", Self.bytes(counts.tarballBytes)))
            figures.append(Figure("dead-lettered changes", Self.number(counts.deadLettered)))
            if let last = counts.lastProcessedAt { figures.append(Figure("last change processed", last)) }
        }
        if let directory = configuration.checkpointDirectory {
            let checkpoints = CheckpointDirectory(path: directory)
            let (produced, consumed) = await BlockingWork.run { () -> (Int64?, Int64?) in
                ((try? checkpoints.readProducer())?.updateSeq, (try? checkpoints.readConsumer())?.seq)
            }
            if let consumed { figures.append(Figure("feed seq processed", String(consumed))) }
            if let produced { figures.append(Figure("feed seq read", String(produced))) }
            if let produced, let consumed { figures.append(Figure("lag (changes)", Self.number(Int(max(0, produced - consumed))))) }
        }
        let verdicts = (counts?.verdicts ?? [:]).sorted { $0.value > $1.value }.map { Figure($0.key, Self.number($0.value)) }
        let note: String
        if let counts {
            note = "Counted over the package records at \(Self.clock(counts.takenAt)) (took \(Self.seconds(counts.took)))."
        } else {
            note = records == nil ? "This mirror has no record store to count." : "Counting the package records; reload in a moment."
        }
        return HomePage(figures: figures, verdicts: verdicts, countedNote: note, registryURL: base + "/")
    }

    // MARK: Search

    private func searchPage(_ items: [(name: String, value: String)], base: String) async throws -> SearchPage {
        let text = items.first { $0.name == "q" }?.value ?? ""
        guard !text.isEmpty else { return SearchPage(query: "", results: [], total: 0, message: "Type part of a package's name or description.") }
        guard let search else { return SearchPage(query: text, results: [], total: 0, message: "This mirror has no record store to search.") }
        guard case .success(let query) = PackageSearch.query(from: [("text", text), ("size", "50")]) else {
            return SearchPage(query: text, results: [], total: 0, message: "That search is longer than 1024 bytes.")
        }
        let ranked: [String]
        do {
            ranked = try await PackageSearch(source: search).rank(query)
        } catch let building as SearchIndexNotReady {
            return SearchPage(query: text, results: [], total: 0, message: building.description)
        }
        var results: [SearchPage.Result] = []
        for name in ranked.prefix(50) {
            guard PackageName.problem(with: name) == nil,
                let entry = try await documents.entry(name: name, tarballBase: base), entry.gonePath == nil,
                let index = try? await documents.index(of: entry)
            else { continue }
            results.append(.init(
                name: name, href: WebLinks.package(name),
                version: index.summary["version"]?.stringValue, description: index.summary["description"]?.stringValue))
        }
        return SearchPage(query: text, results: results, total: ranked.count)
    }

    // MARK: Package

    /// The page shows what the store holds even when the records cannot be read (a database the
    /// consumer has not made yet, CouchDB down): it says so instead of failing.
    private func packagePage(
        _ name: String, base: String, record: [String: JSONValue]?, recordsUnreadable: Bool, entry: ServedDocuments.Entry?
    ) async throws -> PackagePage {
        var page = PackagePage(name: name, installCommand: "npm install \(name) --registry \(base)/")
        let body = record ?? [:]
        if body["deleted"]?.boolValue == true { page.state = "Deleted from the registry; this mirror keeps what it had." }
        if body["unpublished"]?.boolValue == true || entry?.gonePath != nil { page.state = "Unpublished." }
        if body["stale"]?.boolValue == true { page.state = "The stored packument is older than the change that announced it (the registry's replica lagged)." }
        if record == nil {
            page.state = recordsUnreadable
                ? "The mirror's records cannot be read now: verdicts and changes are not shown."
                : "Not recorded yet: the consumer has not processed a change of this package."
        }
        page.description = body["description"]?.stringValue
        page.maintainers = body["maintainers"]?.arrayValue?.compactMap(\.stringValue).joined(separator: ", ").nilIfEmpty

        guard let entry, entry.gonePath == nil else { return page }
        let summary = try await documents.webSummary(of: entry)
        page.description = summary["description"]?.stringValue ?? page.description
        page.homepage = WebLinks.external(summary["homepage"]?.stringValue)
        page.repository = WebLinks.external(summary["repository"]?.stringValue)
        page.license = summary["license"]?.stringValue
        let tags = (summary["dist_tags"]?.arrayValue ?? []).compactMap { pair -> (String, String)? in
            guard let tag = pair.arrayValue?.first?.stringValue, let version = pair.arrayValue?.last?.stringValue else { return nil }
            return (tag, version)
        }
        page.distTags = tags.map { Link(text: $0.0, href: WebLinks.version(name, $0.1), note: $0.1) }
        page.latest = tags.first { $0.0 == "latest" }?.1
        if let latest = page.latest { page.installCommand = "npm install \(name)@\(latest) --registry \(base)/" }

        let stored = body["stored_versions"]?.objectValue ?? [:]
        let skipped = body["skipped_versions"]?.objectValue ?? [:]
        let removed = Set(body["removed_versions"]?.arrayValue?.compactMap(\.stringValue) ?? [])
        let signatures = body["signatures"]?.objectValue ?? [:]
        let provenance = body["provenance"]?.objectValue ?? [:]
        let tagsByVersion = Dictionary(grouping: tags, by: \.1).mapValues { $0.map(\.0).joined(separator: ", ") }
        let versions = (summary["versions"]?.arrayValue ?? []).compactMap(\.objectValue)
        // Newest first by publish time (the packument's order is the registry's, mostly oldest first).
        let ordered = versions.enumerated().sorted { left, right in
            let (a, b) = (left.element["time"]?.stringValue ?? "", right.element["time"]?.stringValue ?? "")
            return a == b ? left.offset > right.offset : a > b
        }.map(\.element)
        var sourcesRead = 0
        page.olderVersions = ordered.count > Self.versionsPerPage ? ordered.count - Self.versionsPerPage : nil
        for version in ordered.prefix(Self.versionsPerPage) {
            guard let key = version["version"]?.stringValue else { continue }
            var row = PackagePage.VersionRow(version: key, href: WebLinks.version(name, key))
            row.published = version["time"]?.stringValue.map(Self.shortTime)
            row.deprecated = version["deprecated"]?.stringValue
            row.tags = tagsByVersion[key]
            let held = stored[key]?.objectValue
            row.held = held != nil || (!configuration.fetchTarballs && version["served"]?.boolValue == true)
            if let bytes = held?["bytes"]?.intValue { row.size = Self.bytes(Int64(bytes)) }
            if !row.held {
                row.notHeldReason = skipped[key]?.stringValue.map(Self.reason)
                    ?? (removed.contains(key) ? "pruned (older than the newest kept)" : configuration.fetchTarballs ? "not kept (older than the newest kept)" : nil)
            }
            row.signature = signatures[key]?.stringValue
            if let verdict = provenance[key]?.objectValue {
                row.provenance = verdict["verdict"]?.stringValue
                if verdict["path"]?.stringValue != nil, sourcesRead < Self.provenanceSourcesPerPage {
                    sourcesRead += 1
                    let source = await provenanceSource(name, key)
                    row.repository = source?.repository
                    row.workflow = source?.workflow
                }
            }
            page.versions.append(row)
        }
        let latestVersion = page.latest.flatMap { latest in versions.first { $0["version"]?.stringValue == latest } }
        page.dependencies = Self.dependencyLinks(latestVersion?["dependencies"]?.objectValue)
        if let rendered = await readmes.value(for: entry.key, { [documents] in
            guard let markdown = try? await documents.readme(of: entry) else { return nil }
            return await BlockingWork.run { ReadmeHTML.render(markdown) }
        }) {
            page.readmeHTML = rendered.html
            page.readmeTruncated = rendered.truncated
        }
        if !recordsUnreadable, let changes = try? await search?.changeRecords(ofPackage: name, limit: Self.changesPerPage) {
            page.changes = changes.map { change in
                PackagePage.ChangeRow(
                    seq: change.body["seq"]?.intValue.map(String.init) ?? "reconcile",
                    outcome: change.body["outcome"]?.stringValue ?? "",
                    processedAt: change.body["processed_at"]?.stringValue ?? "")
            }
        } else if let seq = body["last_seq"]?.intValue {
            // No index of the change records here (CouchDB): the record's last change.
            page.changes = [.init(seq: String(seq), outcome: body["outcome"]?.stringValue ?? "", processedAt: body["processed_at"]?.stringValue ?? "")]
        }
        return page
    }

    // MARK: Version

    private func versionPage(_ name: String, _ version: String, base: String) async throws -> VersionPage? {
        guard let entry = try await documents.entry(name: name, tarballBase: base), entry.gonePath == nil else { return nil }
        let summary = try await documents.webSummary(of: entry)
        guard let object = (summary["versions"]?.arrayValue ?? []).compactMap(\.objectValue).first(where: { $0["version"]?.stringValue == version }) else {
            return nil
        }
        let record = await readRecord(name).record ?? [:]
        var page = VersionPage(name: name, version: version, installCommand: "npm install \(name)@\(version) --registry \(base)/")
        page.deprecated = object["deprecated"]?.stringValue
        let held = record["stored_versions"]?.objectValue?[version]?.objectValue
        if let time = object["time"]?.stringValue { page.fields.append(Figure("published", time)) }
        page.fields.append(Figure("held", held != nil ? "yes" : (record["skipped_versions"]?.objectValue?[version]?.stringValue.map { "no: " + Self.reason($0) } ?? "no")))
        if let bytes = held?["bytes"]?.intValue { page.fields.append(Figure("tarball size", Self.bytes(Int64(bytes)))) }
        if let size = object["unpacked_size"]?.intValue { page.fields.append(Figure("unpacked size", Self.bytes(Int64(size)))) }
        if let count = object["file_count"]?.intValue { page.fields.append(Figure("files", Self.number(count))) }
        if let license = object["license"]?.stringValue { page.fields.append(Figure("license", license)) }
        if let integrity = object["integrity"]?.stringValue { page.fields.append(Figure("integrity", integrity)) }
        if let shasum = object["shasum"]?.stringValue { page.fields.append(Figure("shasum", shasum)) }
        if let signature = record["signatures"]?.objectValue?[version]?.stringValue { page.fields.append(Figure("signature", signature)) }
        if let provenance = record["provenance"]?.objectValue?[version]?.objectValue {
            if let verdict = provenance["verdict"]?.stringValue { page.fields.append(Figure("provenance", verdict)) }
            if provenance["path"]?.stringValue != nil, let source = await provenanceSource(name, version) {
                if let repository = source.repository { page.fields.append(Figure("built from", repository)) }
                if let workflow = source.workflow { page.fields.append(Figure("workflow", workflow)) }
                if let commit = source.commit { page.fields.append(Figure("commit", commit)) }
            }
            page.attestationsURL = base + "/-/npm/v1/attestations/" + PackageName.registryPath(name).dropFirst() + "@" + URLEncoding.encode(version, keeping: .packageName)
        }
        if object["served"]?.boolValue == true {
            page.tarballURL = base + "/" + RegistryPaths.packagePath(name) + "/-/" + RegistryPaths.tarballFileName(name: name, version: version)
        }
        page.dependencies = Self.dependencyLinks(object["dependencies"]?.objectValue)
        return page
    }

    // MARK: Pieces

    /// The package record, or nil with whether the records could not be read at all.
    private func readRecord(_ name: String) async -> (record: [String: JSONValue]?, unreadable: Bool) {
        guard let records else { return (nil, false) }
        do {
            return (try await records.read(id: name)?.objectValue, false)
        } catch {
            logger.warning("Could not read a package record for its page", metadata: ["npm.package": "\(name)", "error": "\(error)"])
            return (nil, true)
        }
    }

    /// The repository, commit and workflow the stored attestations of a version name.
    private func provenanceSource(_ name: String, _ version: String) async -> ProvenanceStatement.Source? {
        guard let bytes = try? await BlockingWork.run({ [store] in try store.readAttestations(name: name, version: version) }) else { return nil }
        return ProvenanceStatement.source(attestations: bytes)
    }

    private static func dependencyLinks(_ dependencies: [String: JSONValue]?) -> [Link] {
        (dependencies ?? [:]).sorted { $0.key < $1.key }.map { name, range in
            // An alias or a name npm would refuse is shown, not linked to a page of its own.
            let href = PackageName.problem(with: name) == nil ? WebLinks.package(name) : WebLinks.search + "?q=" + URLEncoding.encode(name)
            return Link(text: name, href: href, note: range.stringValue ?? "")
        }
    }

    private static func reason(_ code: String) -> String {
        switch code {
        case "too_large": "too large (over MAX_TARBALL_SIZE)"
        case "not_kept": "not kept (older than the newest kept)"
        default: code.replacingOccurrences(of: "_", with: " ")
        }
    }

    static func number(_ value: Int) -> String {
        let digits = String(value)
        var grouped = ""
        for (offset, character) in digits.enumerated() {
            if offset > 0, (digits.count - offset) % 3 == 0 { grouped.append(",") }
            grouped.append(character)
        }
        return grouped
    }

    static func bytes(_ value: Int64) -> String {
        let units = ["B", "KB", "MB", "GB", "TB"]
        var amount = Double(value)
        var unit = 0
        while amount >= 1000, unit < units.count - 1 {
            amount /= 1000
            unit += 1
        }
        return unit == 0 ? "\(value) B" : String(format: "%.1f %@", amount, units[unit])
    }

    /// `2020-04-01T12:30:00.000Z` → `2020-04-01 12:30`; anything else as it is.
    static func shortTime(_ time: String) -> String {
        guard time.count >= 16, time.dropFirst(10).first == "T" else { return time }
        return time.prefix(10) + " " + time.dropFirst(11).prefix(5)
    }

    private static func seconds(_ duration: Duration) -> String {
        String(format: "%.1f s", duration / .seconds(1))
    }

    private static func clock(_ date: Date) -> String {
        ISO8601DateFormatter().string(from: date)
    }
}

/// Values made once per key by one task while concurrent askers wait for it: rendered READMEs by
/// served key, rendered package pages by what they were made from. At most ``capacity`` keys (then
/// it starts again); a value that could not be made is not kept.
final class RenderCache<Value: Sendable>: Sendable {
    let capacity: Int
    private let cache = Mutex<[String: Task<Value?, Never>]>([:])

    init(capacity: Int) {
        self.capacity = capacity
    }

    func value(for key: String, _ make: @escaping @Sendable () async -> Value?) async -> Value? {
        let task = cache.withLock { cache -> Task<Value?, Never> in
            if let known = cache[key] { return known }
            if cache.count >= capacity { cache.removeAll(keepingCapacity: true) }
            let task = Task { await make() }
            cache[key] = task
            return task
        }
        let value = await task.value
        if value == nil { _ = cache.withLock { $0.removeValue(forKey: key) } }
        return value
    }
}

extension String {
    fileprivate var nilIfEmpty: String? { isEmpty ? nil : self }
}
