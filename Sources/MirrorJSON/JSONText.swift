/// Writing JSON text: the one string escaper of the project (change messages, records, the
/// simulator's documents).
package enum JSONText {

    /// Appends `text` as a JSON string literal, quotes included: `"` and `\` escaped, `\n`, `\r`, `\t`
    /// as themselves, other control characters as `\u00XX`; everything else (UTF-8) as it is.
    package static func appendString(_ text: String, to output: inout [UInt8]) {
        output.append(UInt8(ascii: "\""))
        appendEscaped(text, to: &output)
        output.append(UInt8(ascii: "\""))
    }

    /// The inside of a JSON string literal for `text`, without the quotes.
    package static func appendEscaped(_ text: String, to output: inout [UInt8]) {
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): output += [UInt8(ascii: "\\"), UInt8(ascii: "\"")]
            case UInt8(ascii: "\\"): output += [UInt8(ascii: "\\"), UInt8(ascii: "\\")]
            case 0x0A: output += [UInt8(ascii: "\\"), UInt8(ascii: "n")]
            case 0x0D: output += [UInt8(ascii: "\\"), UInt8(ascii: "r")]
            case 0x09: output += [UInt8(ascii: "\\"), UInt8(ascii: "t")]
            case 0x00..<0x20:
                output += [UInt8(ascii: "\\"), UInt8(ascii: "u"), UInt8(ascii: "0"), UInt8(ascii: "0")]
                Hex.append(byte, to: &output)
            default: output.append(byte)
            }
        }
    }
}
