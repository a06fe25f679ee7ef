import MirrorJSON
import NIOCore

/// A minimal streaming JSON writer with deterministic key order.
///
/// Packuments are written field by field in the order the real registry uses, which
/// `JSONSerialization`/`JSONEncoder` cannot promise, and several-MB documents are
/// written without building an intermediate tree.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int = 1024) {
        self.bytes.reserveCapacity(capacity)
    }

    var count: Int { self.bytes.count }

    var byteBuffer: ByteBuffer { ByteBuffer(bytes: self.bytes) }

    private mutating func separator() {
        guard let last = self.bytes.last else { return }
        switch last {
        case UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: ":"):
            return
        default:
            self.bytes.append(UInt8(ascii: ","))
        }
    }

    mutating func object(_ body: (inout JSONWriter) -> Void) {
        self.separator()
        self.bytes.append(UInt8(ascii: "{"))
        body(&self)
        self.bytes.append(UInt8(ascii: "}"))
    }

    mutating func array(_ body: (inout JSONWriter) -> Void) {
        self.separator()
        self.bytes.append(UInt8(ascii: "["))
        body(&self)
        self.bytes.append(UInt8(ascii: "]"))
    }

    mutating func key(_ key: String) {
        self.separator()
        self.appendQuoted(key)
        self.bytes.append(UInt8(ascii: ":"))
    }

    mutating func string(_ value: String) {
        self.separator()
        self.appendQuoted(value)
    }

    mutating func int(_ value: Int) {
        self.separator()
        self.bytes.append(contentsOf: String(value).utf8)
    }

    mutating func bool(_ value: Bool) {
        self.separator()
        self.bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    mutating func field(_ key: String, _ value: String) {
        self.key(key)
        self.string(value)
    }

    mutating func field(_ key: String, _ value: Int) {
        self.key(key)
        self.int(value)
    }

    mutating func field(_ key: String, _ value: Bool) {
        self.key(key)
        self.bool(value)
    }

    mutating func objectField(_ key: String, _ body: (inout JSONWriter) -> Void) {
        self.key(key)
        self.object(body)
    }

    mutating func arrayField(_ key: String, _ body: (inout JSONWriter) -> Void) {
        self.key(key)
        self.array(body)
    }

    /// Writes a string value made of `count` bytes of filler text (used to size documents).
    mutating func fillerString(_ key: String, prefix: String, count: Int, seed: UInt64) {
        self.key(key)
        self.separator()
        self.bytes.append(UInt8(ascii: "\""))
        let start = self.bytes.count
        self.appendEscaped(prefix)
        var generator = SplitMix64(seed: seed, stream: "filler")
        var paragraph: [UInt8] = []
        while paragraph.count < 4096 {
            paragraph.append(contentsOf: generator.pick(Words.nouns).utf8)
            paragraph.append(generator.chance(0.08) ? UInt8(ascii: ".") : UInt8(ascii: " "))
            if generator.chance(0.02) {
                paragraph.append(contentsOf: "\\n\\n".utf8)
            }
        }
        while self.bytes.count - start < count {
            let remaining = count - (self.bytes.count - start)
            if remaining >= paragraph.count {
                self.bytes.append(contentsOf: paragraph)
            } else {
                // Never cut an escape sequence in half.
                var slice = paragraph[..<remaining]
                while slice.last == UInt8(ascii: "\\") { slice = slice.dropLast() }
                self.bytes.append(contentsOf: slice)
                if slice.isEmpty { break }
            }
        }
        self.bytes.append(UInt8(ascii: "\""))
    }

    private mutating func appendQuoted(_ value: String) {
        self.bytes.append(UInt8(ascii: "\""))
        self.appendEscaped(value)
        self.bytes.append(UInt8(ascii: "\""))
    }

    private mutating func appendEscaped(_ value: String) {
        JSONText.appendEscaped(value, to: &self.bytes)
    }
}
