import Foundation
import MirrorRecords

/// The store write log a consumer keeps when `NPM_MIRROR_STORE_WRITE_LOG` names a file: one line
/// `<package name>\t<rev>\n` each time a packument revision becomes the package's current one in the
/// store, appended (O_APPEND, under a per-package lock) by every consumer process, so lines of several
/// processes interleave whole. Read back, it shows whether a package's current revision ever went
/// backwards: per package, the generation (the integer before the first `-` of the rev) must never
/// decrease from one line to the next.
struct StoreWriteLog: Sendable {
    static let environmentName = "NPM_MIRROR_STORE_WRITE_LOG"

    /// A package whose current revision went backwards: `next` was made current after `previous`.
    struct Regression: Sendable, CustomStringConvertible {
        var name: String
        var previous: String
        var next: String
        var line: Int

        var description: String { "\(name): \(previous) then \(next) (line \(line))" }
    }

    /// Lines read (well-formed or not).
    var lines = 0
    /// Current-revision writes per package.
    var writes: [String: Int] = [:]
    var regressions: [Regression] = []
    /// Lines that are not `<name>\t<generation>-<hash>` (a torn or interleaved line), with their number.
    var malformed: [(line: Int, text: String)] = []

    /// Reads the log at `path`. Throws when it is missing or empty: a scenario whose log says nothing
    /// proves nothing.
    static func read(_ path: String) throws -> StoreWriteLog {
        guard FileManager.default.fileExists(atPath: path) else {
            throw ChaosError("no store write log at \(path): the consumers did not write one (does changes-consumer support \(environmentName)?)")
        }
        guard let data = FileManager.default.contents(atPath: path) else { throw ChaosError("the store write log \(path) cannot be read") }
        guard !data.isEmpty else { throw ChaosError("the store write log \(path) is empty: no consumer logged a store write") }
        return StoreWriteLog(parsing: String(decoding: data, as: UTF8.self))
    }

    init(parsing text: String) {
        var current: [String: (rev: String, generation: Int)] = [:]
        var rows = text.split(separator: "\n", omittingEmptySubsequences: false)
        // Every line ends with a newline, so the last piece is empty; one that is not is a torn line.
        let torn = rows.last != ""
        if !torn { rows.removeLast() }
        for (index, row) in rows.enumerated() {
            let number = index + 1
            lines += 1
            let fields = row.split(separator: "\t", omittingEmptySubsequences: false)
            guard fields.count == 2, !fields[0].isEmpty, let generation = Self.generation(of: fields[1]), !(torn && number == rows.count) else {
                malformed.append((number, String(row.prefix(200))))
                continue
            }
            let name = String(fields[0])
            let rev = String(fields[1])
            writes[name, default: 0] += 1
            if let previous = current[name], generation < previous.generation {
                regressions.append(Regression(name: name, previous: previous.rev, next: rev, line: number))
            }
            current[name] = (rev, generation)
        }
    }

    /// The generation of a CouchDB-style rev `<generation>-<hash>`: digits, a dash, then a non-empty hash.
    /// (Stricter than ``DocumentRevision/generation(_:)``, which it uses: a torn line must not pass.)
    static func generation(of rev: Substring) -> Int? {
        guard let dash = rev.firstIndex(of: "-"), rev.index(after: dash) < rev.endIndex,
            !rev[rev.index(after: dash)...].contains(where: \.isWhitespace)
        else { return nil }
        return DocumentRevision.generation(String(rev))
    }

    /// Every line well-formed and no package's generation decreasing.
    var clean: Bool { regressions.isEmpty && malformed.isEmpty }

    var totalWrites: Int { writes.values.reduce(0, +) }

    /// Lines compared with an earlier line of the same package (the order check's work).
    var successions: Int { totalWrites - writes.count }

    /// What broke, for an error message (empty when clean).
    var problems: [String] {
        var problems: [String] = []
        if !regressions.isEmpty {
            problems.append("\(regressions.count) current-revision writes went backwards, e.g. \(regressions.prefix(5).map(\.description).joined(separator: "; "))")
        }
        if !malformed.isEmpty {
            problems.append("\(malformed.count) malformed lines in the store write log, e.g. \(malformed.prefix(3).map { "line \($0.line): \($0.text.debugDescription)" }.joined(separator: "; "))")
        }
        return problems
    }
}
