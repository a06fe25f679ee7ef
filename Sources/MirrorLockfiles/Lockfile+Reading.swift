import Foundation

extension Lockfile {
    /// The largest lockfile read: 64 MiB. Real lockfiles of large monorepos are a few MiB.
    public static let maximumSize = 64 << 20

    /// Reads and parses the lockfile at `path`; the file's name is the format hint (see
    /// ``parse(_:fileName:)``). A file over ``maximumSize`` is refused without reading past the limit.
    public static func read(path: String) throws(LockfileError) -> Lockfile {
        let bytes: Data
        do {
            let handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path))
            defer { try? handle.close() }
            bytes = try handle.read(upToCount: maximumSize + 1) ?? Data()
        } catch {
            throw LockfileError(.unreadable, file: path, "cannot read the file: \(error.localizedDescription)")
        }
        return try parse(bytes, fileName: path)
    }

    /// Parses lockfile text. The format comes from the content: JSON is npm's; a YAML document whose
    /// first key is `lockfileVersion` is pnpm's, one starting with `__metadata` is Yarn Berry's; the
    /// `# yarn lockfile v1` comment marks Yarn classic. When the content says nothing, the last path
    /// component of `fileName` decides (`yarn.lock` → Yarn classic, `pnpm-lock.yaml` → pnpm,
    /// `package-lock.json`/`npm-shrinkwrap.json` → npm). `fileName` also names the file in errors.
    public static func parse(_ bytes: some Collection<UInt8>, fileName: String) throws(LockfileError) -> Lockfile {
        let context = ReadContext(file: fileName)
        guard bytes.count <= maximumSize else {
            throw LockfileError(.tooLarge, file: fileName, "the file is larger than \(maximumSize >> 20) MiB")
        }
        var content = Array(bytes)[...]
        if content.starts(with: [0xEF, 0xBB, 0xBF]) { content = content.dropFirst(3) }
        guard let text = String(validating: content, as: UTF8.self) else {
            throw context.malformed("the file is not UTF-8 text")
        }
        let format = try detectFormat(text, fileName: fileName)
        do {
            switch format {
            case .npm: return try NPMLockfileReader(context: context).read(content)
            case .pnpm: return try PNPMLockfileReader(context: context).read(text)
            case .yarnClassic: return try YarnClassicReader(context: context).read(text)
            case .yarnBerry: return try YarnBerryReader(context: context).read(text)
            }
        } catch let error as LockfileError {
            throw error
        } catch {
            throw context.malformed("\(error)")
        }
    }

    /// The format of `text`, from its content first and then from the file name.
    static func detectFormat(_ text: String, fileName: String) throws(LockfileError) -> Format {
        var sawYarnClassicHeader = false
        var firstContentLine: Substring?
        for line in text.split(omittingEmptySubsequences: true, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).prefix(64) {
            let trimmed = line.trimmingCharacters(in: .whitespaces)
            if trimmed.isEmpty { continue }
            if trimmed.hasPrefix("#") {
                if trimmed.hasPrefix("# yarn lockfile v1") { sawYarnClassicHeader = true }
                continue
            }
            firstContentLine = line
            break
        }
        if let first = firstContentLine {
            if first.trimmingCharacters(in: .whitespaces).hasPrefix("{") { return .npm }
            for key in ["__metadata", "\"__metadata\"", "'__metadata'"] where first.hasPrefix(key + ":") {
                return .yarnBerry
            }
            for key in ["lockfileVersion", "\"lockfileVersion\"", "'lockfileVersion'"] where first.hasPrefix(key + ":") {
                return .pnpm
            }
        }
        if sawYarnClassicHeader { return .yarnClassic }
        let baseName = fileName.split(separator: "/").last.map(String.init) ?? fileName
        switch baseName {
        case "package-lock.json", "npm-shrinkwrap.json": return .npm
        case "pnpm-lock.yaml", "pnpm-lock.yml": return .pnpm
        case "yarn.lock": return .yarnClassic
        default:
            throw LockfileError(
                .unrecognized, file: fileName,
                "not a lockfile of npm (JSON with lockfileVersion), pnpm (YAML with lockfileVersion) or Yarn (yarn.lock)")
        }
    }
}
