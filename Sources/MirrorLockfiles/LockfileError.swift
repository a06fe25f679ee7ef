/// Why a lockfile could not be read: which file, what is wrong and, where known, the line.
///
/// The description is one line, bounded in length, with control characters escaped, so it can be
/// printed as it is whatever the file held.
public struct LockfileError: Error, CustomStringConvertible, Sendable, Equatable {
    /// What went wrong, for callers that branch on it (an open set: compare with the static members).
    public struct Kind: Sendable, Hashable, CustomStringConvertible {
        private let code: String
        private init(_ code: String) { self.code = code }

        /// The file could not be opened or read.
        public static let unreadable = Kind("unreadable")
        /// The file is larger than ``Lockfile/maximumSize``.
        public static let tooLarge = Kind("too-large")
        /// The file is none of the formats this module reads.
        public static let unrecognized = Kind("unrecognized")
        /// The format is known but this version of it is not.
        public static let unsupportedVersion = Kind("unsupported-version")
        /// The bytes are not valid JSON, YAML or Yarn classic text (or not UTF-8).
        public static let malformed = Kind("malformed")
        /// The text parses but a value has the wrong type or shape.
        public static let invalidStructure = Kind("invalid-structure")
        /// The YAML uses anchors or aliases, which no lockfile writer produces.
        public static let yamlAnchors = Kind("yaml-anchors")

        /// A short fixed label (`"malformed"`), usable as a metric label value.
        public var description: String { code }
    }

    /// What went wrong.
    public let kind: Kind
    /// The file name as given to the reader.
    public let file: String
    /// The 1-based line, when known.
    public let line: Int?
    /// What is wrong, in words.
    public let message: String

    init(_ kind: Kind, file: String, line: Int? = nil, _ message: String) {
        self.kind = kind
        self.file = file
        self.line = line
        self.message = message
    }

    /// `file:line: message`.
    public var description: String {
        let place = line.map { "\(Self.displayable(file, limit: 200)):\($0)" } ?? Self.displayable(file, limit: 200)
        return "\(place): \(Self.displayable(message, limit: 600))"
    }

    /// `text` with control characters escaped and cut to `limit` characters (with `…`).
    static func displayable(_ text: String, limit: Int = 120) -> String {
        var result = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count >= limit {
                result += "…"
                break
            }
            switch scalar.value {
            case 0x0A: result += "\\n"
            case 0x0D: result += "\\r"
            case 0x09: result += "\\t"
            case 0..<0x20, 0x7F, 0x80..<0xA0, 0x2028, 0x2029:
                result += "\\u{\(String(scalar.value, radix: 16))}"
            default: result.unicodeScalars.append(scalar)
            }
            count += 1
        }
        return result
    }
}

/// Where a reader is: the file name, for the errors it throws.
struct ReadContext {
    var file: String

    func malformed(_ message: String, line: Int? = nil) -> LockfileError {
        LockfileError(.malformed, file: file, line: line, message)
    }

    func invalid(_ message: String, line: Int? = nil) -> LockfileError {
        LockfileError(.invalidStructure, file: file, line: line, message)
    }

    func unsupported(_ message: String, line: Int? = nil) -> LockfileError {
        LockfileError(.unsupportedVersion, file: file, line: line, message)
    }
}
