extension JSONValue {
    /// The deepest nesting of arrays and objects `init(parsing:)` accepts (as Foundation's decoder).
    public static let maximumParsingDepth = 512

    /// Parses JSON text (UTF-8) in one pass (``JSONScanner``). Throws when the bytes are not one valid
    /// JSON value, or nest deeper than ``maximumParsingDepth``. Repeated keys: the last one wins.
    public init(parsing bytes: some Collection<UInt8>) throws {
        self = try JSONScanner.withBytes(of: bytes) { raw in
            Result { () throws(JSONScanner.Failure) -> JSONValue in
                var scanner = JSONScanner(raw)
                return try scanner.readWhole { scanner throws(JSONScanner.Failure) in try scanner.readValue(depth: 0) }
            }
        }.get()
    }

    /// Parses JSON text.
    public init(parsing text: String) throws {
        try self.init(parsing: Array(text.utf8))
    }

    /// Compact JSON text, object keys in ascending code-point order: the same value always gives the same bytes.
    public var serializedBytes: [UInt8] {
        var output: [UInt8] = []
        output.reserveCapacity(64)
        self.write(to: &output)
        return output
    }

    /// Compact JSON text, as `serializedBytes`.
    public var serialized: String {
        String(decoding: self.serializedBytes, as: UTF8.self)
    }

    /// Appends the compact JSON text of this value to `output`.
    public func write(to output: inout [UInt8]) {
        switch self {
        case .null:
            output.append(contentsOf: "null".utf8)
        case .bool(let bool):
            output.append(contentsOf: (bool ? "true" : "false").utf8)
        case .number(let number):
            if let int = self.intValue {
                output.append(contentsOf: String(int).utf8)
            } else if number.isFinite {
                output.append(contentsOf: "\(number)".utf8)
            } else {
                output.append(contentsOf: "null".utf8)  // JSON has no NaN or infinity
            }
        case .string(let string):
            Self.writeString(string, to: &output)
        case .array(let elements):
            output.append(UInt8(ascii: "["))
            for (index, element) in elements.enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                element.write(to: &output)
            }
            output.append(UInt8(ascii: "]"))
        case .object(let members):
            output.append(UInt8(ascii: "{"))
            for (index, key) in members.keys.sorted().enumerated() {
                if index > 0 { output.append(UInt8(ascii: ",")) }
                Self.writeString(key, to: &output)
                output.append(UInt8(ascii: ":"))
                members[key]!.write(to: &output)
            }
            output.append(UInt8(ascii: "}"))
        }
    }

    private static func writeString(_ string: String, to output: inout [UInt8]) {
        JSONText.appendString(string, to: &output)
    }
}

extension JSONValue: CustomStringConvertible {
    public var description: String { self.serialized }
}

extension JSONScanner {
    fileprivate mutating func readValue(depth: Int) throws(Failure) -> JSONValue {
        guard depth < JSONValue.maximumParsingDepth else {
            throw Failure(message: "not JSON: nested deeper than \(JSONValue.maximumParsingDepth) at byte \(index)")
        }
        switch peek() {
        case UInt8(ascii: "{"):
            var members: [String: JSONValue] = [:]
            try readObject { scanner, key throws(Failure) in members[key] = try scanner.readValue(depth: depth + 1) }
            return .object(members)
        case UInt8(ascii: "["):
            var elements: [JSONValue] = []
            try readArray { scanner throws(Failure) in elements.append(try scanner.readValue(depth: depth + 1)) }
            return .array(elements)
        case UInt8(ascii: "\""):
            return .string(try readString())
        case UInt8(ascii: "t") where matchLiteral("true"):
            return .bool(true)
        case UInt8(ascii: "f") where matchLiteral("false"):
            return .bool(false)
        case UInt8(ascii: "n") where matchLiteral("null"):
            return .null
        default:
            return .number(try readNumber())
        }
    }
}
