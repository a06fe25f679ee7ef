/// A streaming JSON writer: members in the order they are written (the registry's order, which a
/// dictionary cannot keep), values appended straight to bytes (a several-MB document without a tree
/// in between), raw JSON copied in as it is. The one writer of the simulator's documents and
/// `npm-mirror serve`'s derived ones.
///
/// Commas are placed by the writer: every value and key after a value is preceded by one, judged by
/// the last byte written (nothing after `{`, `[` or `:`). Raw JSON given to ``raw(_:)`` must be one
/// whole value.
public struct JSONWriter: Sendable {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 1024) {
        bytes.reserveCapacity(capacity)
    }

    public var count: Int { bytes.count }

    private mutating func separator() {
        guard let last = bytes.last else { return }
        switch last {
        case UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: ":"):
            return
        default:
            bytes.append(UInt8(ascii: ","))
        }
    }

    // MARK: Containers

    public mutating func beginObject() {
        separator()
        bytes.append(UInt8(ascii: "{"))
    }

    public mutating func endObject() {
        bytes.append(UInt8(ascii: "}"))
    }

    public mutating func beginArray() {
        separator()
        bytes.append(UInt8(ascii: "["))
    }

    public mutating func endArray() {
        bytes.append(UInt8(ascii: "]"))
    }

    public mutating func object(_ body: (inout JSONWriter) -> Void) {
        beginObject()
        body(&self)
        endObject()
    }

    public mutating func array(_ body: (inout JSONWriter) -> Void) {
        beginArray()
        body(&self)
        endArray()
    }

    // MARK: Keys and values

    public mutating func key(_ key: String) {
        separator()
        JSONText.appendString(key, to: &bytes)
        bytes.append(UInt8(ascii: ":"))
    }

    public mutating func string(_ value: String) {
        separator()
        JSONText.appendString(value, to: &bytes)
    }

    public mutating func int(_ value: Int) {
        separator()
        bytes.append(contentsOf: String(value).utf8)
    }

    public mutating func bool(_ value: Bool) {
        separator()
        bytes.append(contentsOf: (value ? "true" : "false").utf8)
    }

    /// A value written anew (object keys sorted, as `JSONValue` serializes).
    public mutating func value(_ value: JSONValue) {
        separator()
        value.write(to: &bytes)
    }

    /// One whole JSON value, copied as it is (a range of the document being rewritten).
    public mutating func raw(_ json: some Sequence<UInt8>) {
        separator()
        bytes.append(contentsOf: json)
    }

    // MARK: Members

    public mutating func field(_ key: String, _ value: String) {
        self.key(key)
        string(value)
    }

    public mutating func field(_ key: String, _ value: Int) {
        self.key(key)
        int(value)
    }

    public mutating func field(_ key: String, _ value: Bool) {
        self.key(key)
        bool(value)
    }

    public mutating func objectField(_ key: String, _ body: (inout JSONWriter) -> Void) {
        self.key(key)
        object(body)
    }

    public mutating func arrayField(_ key: String, _ body: (inout JSONWriter) -> Void) {
        self.key(key)
        array(body)
    }
}
