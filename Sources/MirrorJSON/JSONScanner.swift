/// A single-pass JSON reader for documents of which the mirror needs a few fields: the caller walks
/// the structure it cares about (``readObject(_:)``, ``readArray(_:)``, ``readString()``) and steps
/// over everything else with ``skipValue()`` without building it.
///
/// Skipped values are walked with a depth counter rather than recursion, so no nesting can exhaust
/// the stack; brackets must balance and strings must close, so a body cut anywhere ends inside a
/// value and is an error. The readers of `_changes` pages and of packuments (`NPMRegistry`) and
/// `JSONValue(parsing:)` (CouchDB's answers, records) are built on it.
package struct JSONScanner {
    package struct Failure: Error, CustomStringConvertible {
        package var message: String
        package var description: String { message }

        package init(message: String) {
            self.message = message
        }
    }

    package let bytes: UnsafeRawBufferPointer
    package var index = 0

    package init(_ bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// Runs `read` over `body`'s bytes: in place when they are contiguous (a `ByteBuffer`'s bytes, an
    /// array), over a copy otherwise.
    package static func withBytes<T>(of body: some Collection<UInt8>, _ read: (UnsafeRawBufferPointer) -> T) -> T {
        body.withContiguousStorageIfAvailable { read(UnsafeRawBufferPointer($0)) } ?? Array(body).withUnsafeBytes(read)
    }

    /// Reads the whole body as one object with `body`, and checks nothing but whitespace follows.
    /// A body that is not an object is told apart from one that is not JSON at all.
    package mutating func readDocument(_ body: (inout JSONScanner) throws(Failure) -> Void) throws(Failure) {
        try readWhole { scanner throws(Failure) in
            guard scanner.peek() == UInt8(ascii: "{") else {
                try scanner.skipValue()
                throw Failure(message: "not a JSON object")
            }
            try body(&scanner)
        }
    }

    /// Reads the whole body as one value of any type with `body`, and checks nothing but whitespace
    /// follows.
    package mutating func readWhole<T>(_ body: (inout JSONScanner) throws(Failure) -> T) throws(Failure) -> T {
        skipWhitespace()
        guard peek() != nil else { throw Failure(message: "not JSON: the body is empty") }
        let value = try body(&self)
        skipWhitespace()
        guard index == bytes.count else { throw Failure(message: "not JSON: content after the value") }
        return value
    }

    package mutating func readStringIfString() throws(Failure) -> String? {
        guard peek() == UInt8(ascii: "\"") else {
            try skipValue()
            return nil
        }
        return try readString()
    }

    package mutating func readTrueIfBoolean() throws(Failure) -> Bool {
        if matchLiteral("true") { return true }
        if matchLiteral("false") { return false }
        try skipValue()
        return false
    }

    /// An integer; nil (the value stepped over) for anything else, for fractions and exponents, and
    /// for integers beyond Int64.
    package mutating func readIntegerIfInteger() throws(Failure) -> Int64? {
        guard let first = peek(), first == UInt8(ascii: "-") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) else {
            try skipValue()
            return nil
        }
        let start = index
        let negative = first == UInt8(ascii: "-")
        if negative { index += 1 }
        var value: Int64 = 0
        var overflow = false
        var digits = 0
        while let byte = peek(), byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") {
            let (times, o1) = value.multipliedReportingOverflow(by: 10)
            let digit = Int64(byte - UInt8(ascii: "0"))
            let (next, o2) = negative ? times.subtractingReportingOverflow(digit) : times.addingReportingOverflow(digit)
            overflow = overflow || o1 || o2
            value = next
            digits += 1
            index += 1
        }
        if digits == 0 || (peek().map { !Self.isDelimiter($0) } ?? false) {
            index = start
            try skipValue()
            return nil
        }
        return overflow ? nil : value
    }

    /// A number, checked against JSON's grammar (`-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`),
    /// as the nearest Double.
    package mutating func readNumber() throws(Failure) -> Double {
        let start = index
        func digits(_ scanner: inout JSONScanner) -> Int {
            let first = scanner.index
            while let byte = scanner.peek(), byte >= UInt8(ascii: "0"), byte <= UInt8(ascii: "9") { scanner.index += 1 }
            return scanner.index - first
        }
        if peek() == UInt8(ascii: "-") { index += 1 }
        if peek() == UInt8(ascii: "0") {
            index += 1
        } else if digits(&self) == 0 {
            throw syntaxError("a number")
        }
        if peek() == UInt8(ascii: ".") {
            index += 1
            guard digits(&self) > 0 else { throw syntaxError("a digit after '.'") }
        }
        if peek() == UInt8(ascii: "e") || peek() == UInt8(ascii: "E") {
            index += 1
            if peek() == UInt8(ascii: "+") || peek() == UInt8(ascii: "-") { index += 1 }
            guard digits(&self) > 0 else { throw syntaxError("a digit in the exponent") }
        }
        if let next = peek(), !Self.isDelimiter(next) { throw syntaxError("the end of a number") }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self)
        guard let value = Double(text) else { throw syntaxError("a number") }
        return value
    }

    // MARK: Structure

    /// Calls `body` with each key, positioned at its value, which `body` must consume.
    package mutating func readObject(_ body: (inout JSONScanner, String) throws(Failure) -> Void) throws(Failure) {
        try expect(UInt8(ascii: "{"))
        skipWhitespace()
        if peek() == UInt8(ascii: "}") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            guard peek() == UInt8(ascii: "\"") else { throw syntaxError("a key") }
            let key = try readString()
            skipWhitespace()
            try expect(UInt8(ascii: ":"))
            skipWhitespace()
            try body(&self, key)
            skipWhitespace()
            guard let next = peek() else { throw syntaxError("',' or '}'") }
            index += 1
            if next == UInt8(ascii: "}") { return }
            guard next == UInt8(ascii: ",") else { throw syntaxError("',' or '}'") }
        }
    }

    /// Calls `body` positioned at each element, which `body` must consume.
    package mutating func readArray(_ body: (inout JSONScanner) throws(Failure) -> Void) throws(Failure) {
        try expect(UInt8(ascii: "["))
        skipWhitespace()
        if peek() == UInt8(ascii: "]") {
            index += 1
            return
        }
        while true {
            skipWhitespace()
            try body(&self)
            skipWhitespace()
            guard let next = peek() else { throw syntaxError("',' or ']'") }
            index += 1
            if next == UInt8(ascii: "]") { return }
            guard next == UInt8(ascii: ",") else { throw syntaxError("',' or ']'") }
        }
    }

    /// Steps over one value of any type. Containers are walked with a depth counter: brackets must
    /// balance and strings are read whole, so a cut body is always noticed.
    package mutating func skipValue() throws(Failure) {
        skipWhitespace()
        var depth = 0
        repeat {
            guard let byte = peek() else { throw syntaxError("a value") }
            switch byte {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                depth += 1
                index += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"):
                guard depth > 0 else { throw syntaxError("a value") }
                depth -= 1
                index += 1
            case UInt8(ascii: "\""):
                try skipString()
            case UInt8(ascii: ","), UInt8(ascii: ":"), UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"):
                guard depth > 0 else { throw syntaxError("a value") }
                index += 1
            default:
                // A number or a literal: bytes up to the next delimiter.
                let start = index
                while let next = peek(), !Self.isDelimiter(next) { index += 1 }
                guard Self.isScalar(bytes[start..<index]) else { throw syntaxError("a value") }
            }
        } while depth > 0
    }

    private static func isDelimiter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: ","), UInt8(ascii: "]"), UInt8(ascii: "}"), UInt8(ascii: ":"), UInt8(ascii: " "), UInt8(ascii: "\n"), UInt8(ascii: "\r"), UInt8(ascii: "\t"),
            UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: "\""):
            true
        default: false
        }
    }

    private static func isScalar(_ token: Slice<UnsafeRawBufferPointer>) -> Bool {
        if token.elementsEqual("true".utf8) || token.elementsEqual("false".utf8) || token.elementsEqual("null".utf8) { return true }
        guard let first = token.first, first == UInt8(ascii: "-") || (first >= UInt8(ascii: "0") && first <= UInt8(ascii: "9")) else { return false }
        return token.allSatisfy { ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "9")) || $0 == UInt8(ascii: "-") || $0 == UInt8(ascii: "+") || $0 == UInt8(ascii: ".") || $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }
    }

    // MARK: Strings

    package mutating func skipString() throws(Failure) {
        index += 1
        while let byte = peek() {
            index += 1
            if byte == UInt8(ascii: "\\") {
                guard peek() != nil else { break }
                index += 1
            } else if byte == UInt8(ascii: "\"") {
                return
            }
        }
        throw syntaxError("the end of a string")
    }

    package mutating func readString() throws(Failure) -> String {
        try expect(UInt8(ascii: "\""))
        let start = index
        // Fast path: no escapes.
        while let byte = peek(), byte != UInt8(ascii: "\""), byte != UInt8(ascii: "\\") { index += 1 }
        guard let stop = peek() else { throw syntaxError("the end of a string") }
        if stop == UInt8(ascii: "\"") {
            index += 1
            return String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index - 1]), as: UTF8.self)
        }
        var utf8 = Array(bytes[start..<index])
        while let byte = peek() {
            index += 1
            switch byte {
            case UInt8(ascii: "\""):
                return String(decoding: utf8, as: UTF8.self)
            case UInt8(ascii: "\\"):
                guard let escaped = peek() else { throw syntaxError("an escape") }
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): utf8.append(escaped)
                case UInt8(ascii: "b"): utf8.append(0x08)
                case UInt8(ascii: "f"): utf8.append(0x0C)
                case UInt8(ascii: "n"): utf8.append(0x0A)
                case UInt8(ascii: "r"): utf8.append(0x0D)
                case UInt8(ascii: "t"): utf8.append(0x09)
                case UInt8(ascii: "u"):
                    var scalar = try readHex4()
                    if (0xD800..<0xDC00).contains(scalar), matchLiteral("\\u") {
                        let low = try readHex4()
                        if (0xDC00..<0xE000).contains(low) { scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00) }
                    }
                    utf8.append(contentsOf: String(Character(Unicode.Scalar(scalar) ?? "\u{FFFD}")).utf8)
                default:
                    throw syntaxError("a valid escape")
                }
            default:
                utf8.append(byte)
            }
        }
        throw syntaxError("the end of a string")
    }

    private mutating func readHex4() throws(Failure) -> UInt32 {
        guard index + 4 <= bytes.count else { throw syntaxError("four hex digits") }
        var value: UInt32 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: throw syntaxError("four hex digits")
            }
            value = value << 4 | UInt32(digit)
            index += 1
        }
        return value
    }

    // MARK: Bytes

    package func peek() -> UInt8? {
        index < bytes.count ? bytes[index] : nil
    }

    package mutating func skipWhitespace() {
        while let byte = peek(), byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") || byte == UInt8(ascii: "\t") {
            index += 1
        }
    }

    package mutating func expect(_ byte: UInt8) throws(Failure) {
        guard peek() == byte else { throw syntaxError("'\(Character(Unicode.Scalar(byte)))'") }
        index += 1
    }

    package mutating func matchLiteral(_ literal: String) -> Bool {
        let count = literal.utf8.count
        guard index + count <= bytes.count, bytes[index..<index + count].elementsEqual(literal.utf8) else { return false }
        index += count
        return true
    }

    package func excerpt(from start: Int) -> String {
        let end = min(index, start + 200)
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        return end < index ? text + "…" : text
    }

    package func syntaxError(_ expected: String) -> Failure {
        Failure(message: "not JSON: expected \(expected) at byte \(index)")
    }
}
