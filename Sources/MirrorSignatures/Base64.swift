import Foundation

/// Base64 as signatures and DSSE payloads arrive: the standard alphabet or the URL-safe one (DSSE
/// allows either), padding optional. Anything else — whitespace, stray characters, a length no
/// encoding gives — is not base64 (nil), where Node's decoder, which pacote uses, would skip it: a
/// signature is judged on exactly the bytes it spells.
enum Base64 {
    static func decode(_ text: String) -> [UInt8]? {
        var standard = String(text.map { $0 == "-" ? "+" : $0 == "_" ? "/" : $0 })
        switch standard.utf8.count % 4 {
        case 2: standard += "=="
        case 3: standard += "="
        case 1: return nil
        default: break
        }
        return Data(base64Encoded: standard).map(Array.init)
    }
}
