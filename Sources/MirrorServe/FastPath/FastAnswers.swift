import MirrorStore
import NIOConcurrencyHelpers
import NIOCore
import NIOHTTP1
import Synchronization

/// The packument answers the fast path gives without leaving the event loop: what the slow path
/// answered for a package's representation (status 200, the head's fields, the body or the file
/// it came from), kept with the stamps of the package folder and `packument.json.gz` it was found
/// by. A hit re-checks those stamps (two `stat`s); a new revision or a tarball added or removed
/// changes them, and the request goes to the slow path, which derives and remembers again.
///
/// Bodies up to ``memoryBodyLimit`` are kept in memory (one `ByteBuffer` that every connection
/// writes: NIO shares its storage), larger ones are sent from their file by `sendfile`. The bytes
/// kept are capped (``byteCap``); past it, entries are dropped oldest first.
final class FastAnswers: Sendable {
    /// What a request's answer depends on.
    struct Key: Hashable, Sendable {
        var name: String
        var base: String
        var abbreviated: Bool
        var gzip: Bool
    }

    enum Body: Sendable {
        case memory(ByteBuffer)
        case file(path: String, size: Int)

        var size: Int {
            switch self {
            case .memory(let buffer): buffer.readableBytes
            case .file(_, let size): size
            }
        }
    }

    struct Answer: Sendable {
        /// The 200's fields, `Content-Length` included.
        var headers: HTTPHeaders
        /// The 304's fields: the validators, `Vary`, the cooldown's.
        var notModifiedHeaders: HTTPHeaders
        var etag: String
        /// Seconds since 1970 (`Last-Modified`).
        var modified: Int
        var body: Body
        var stamps: ServedDocuments.Entry.Stamps
        /// The folder and packument paths the stamps are of.
        var folderPath: String
        var packumentPath: String
        /// Seconds since 1970 after which the answer no longer holds (a cooldown's end); nil: none.
        var validUntil: Int64?
        /// When the answer must be worked out again whatever the stamps say (a deletion the records
        /// know of does not change the files).
        var expires: NIODeadline
    }

    /// Bodies up to this size are kept in memory.
    static let memoryBodyLimit = 256 * 1024

    let byteCap: Int
    let entryCap: Int

    private struct State {
        var answers: [Key: (answer: Answer, generation: Int)] = [:]
        /// Keys in the order they were remembered, with the generation they were remembered at: a
        /// key remembered again is appended again, and its older position is skipped when dropping.
        var order: [(key: Key, generation: Int)] = []
        var head = 0
        var generation = 0
        var bytes = 0
    }

    private let state = NIOLockedValueBox(State())

    init(byteCap: Int, entryCap: Int = 100_000) {
        self.byteCap = byteCap
        self.entryCap = entryCap
    }

    /// The answer for `key` if it still holds; nil sends the request to the slow path. Stats the
    /// package folder and `packument.json.gz` (what the slow path's own last-lookup memory costs), so
    /// a new revision or a tarball added or removed is seen at once.
    func answer(_ key: Key, now: NIODeadline = .now()) -> Answer? {
        guard let answer = state.withLockedValue({ $0.answers[key]?.answer }) else { return nil }
        if now >= answer.expires || answer.validUntil.map({ ReleaseCooldown.now() >= $0 }) == true
            || FileStamp(answer.folderPath) != answer.stamps.folder || FileStamp(answer.packumentPath) != answer.stamps.packument
        {
            forget(key)
            return nil
        }
        return answer
    }

    /// Keeps an answer the slow path gave.
    func remember(_ key: Key, _ answer: Answer) {
        let size = Self.footprint(answer)
        guard byteCap > 0, size <= byteCap / 4 else { return }
        state.withLockedValue { state in
            if let old = state.answers[key] { state.bytes -= Self.footprint(old.answer) }
            state.generation += 1
            state.answers[key] = (answer, state.generation)
            state.order.append((key, state.generation))
            state.bytes += size
            while state.bytes > byteCap || state.answers.count > entryCap, state.head < state.order.count {
                let (candidate, generation) = state.order[state.head]
                state.head += 1
                guard let held = state.answers[candidate], held.generation == generation else { continue }
                state.answers.removeValue(forKey: candidate)
                state.bytes -= Self.footprint(held.answer)
            }
            // The positions before `head` are spent, and so are those of keys remembered again or
            // forgotten: dropped once they are most of the list.
            if state.order.count > 1024, state.order.count > 2 * state.answers.count {
                state.order = state.order[state.head...].filter { state.answers[$0.key]?.generation == $0.generation }
                state.head = 0
            }
        }
    }

    func forget(_ key: Key) {
        state.withLockedValue { state in
            if let old = state.answers.removeValue(forKey: key) { state.bytes -= Self.footprint(old.answer) }
        }
    }

    /// Bytes an answer holds in memory: its body when kept in memory, its two heads, its paths and
    /// its key, and a little for the rest.
    private static func footprint(_ answer: Answer) -> Int {
        var bytes = 256 + answer.folderPath.utf8.count + answer.packumentPath.utf8.count + 2 * answer.etag.utf8.count
        for headers in [answer.headers, answer.notModifiedHeaders] {
            for (name, value) in headers { bytes += name.utf8.count + value.utf8.count + 32 }
        }
        if case .memory(let buffer) = answer.body { bytes += buffer.readableBytes }
        return bytes
    }
}
