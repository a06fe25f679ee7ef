import MirrorJSON
import NIOCore

extension JSONWriter {
    var byteBuffer: ByteBuffer { ByteBuffer(bytes: bytes) }

    /// A string member of about `count` bytes of filler text after `prefix` (to size documents).
    mutating func fillerString(_ key: String, prefix: String, count: Int, seed: UInt64) {
        var generator = SplitMix64(seed: seed, stream: "filler")
        var paragraph: [UInt8] = []
        while paragraph.count < 4096 {
            paragraph.append(contentsOf: generator.pick(Words.nouns).utf8)
            paragraph.append(generator.chance(0.08) ? UInt8(ascii: ".") : UInt8(ascii: " "))
            if generator.chance(0.02) {
                paragraph.append(contentsOf: "\\n\\n".utf8)
            }
        }
        var text: [UInt8] = []
        text.reserveCapacity(count + 2)
        JSONText.appendString(prefix, to: &text)
        text.removeLast()  // the closing quote: the filler follows inside the string
        let start = 1
        while text.count - start < count {
            let remaining = count - (text.count - start)
            if remaining >= paragraph.count {
                text.append(contentsOf: paragraph)
            } else {
                // Never cut an escape sequence in half.
                var slice = paragraph[..<remaining]
                while slice.last == UInt8(ascii: "\\") { slice = slice.dropLast() }
                text.append(contentsOf: slice)
                if slice.isEmpty { break }
            }
        }
        text.append(UInt8(ascii: "\""))
        self.key(key)
        raw(text)
    }
}
