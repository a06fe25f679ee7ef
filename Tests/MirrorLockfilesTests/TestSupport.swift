import Foundation
import MirrorLockfiles

/// The hand-written and npm-generated lockfiles under `Fixtures/`.
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    /// Reads the fixture `name`, telling the reader its file name is `fileName`.
    static func lockfile(_ name: String, as fileName: String) throws -> Lockfile {
        let bytes = try Data(contentsOf: directory.appendingPathComponent(name))
        return try Lockfile.parse(bytes, fileName: fileName)
    }
}

/// The integrity strings the fixtures use (sha512 of the package's name: valid SRI, not real digests).
enum SRI {
    static let codeFrame = "sha512-TYiAM+uWjdQmMiyF8JIeZmJm5ZMNKP+Hnko+QvS6K4F+UZsFmjkEFu0sQrwwsXqS3tYZqioo6kca9wuALrJnuw=="
    static let jsTokens = "sha512-fIvNBV3y6EBRV/ibHHjLBDSpRbdhtKXf61DSzOV50xIpPgfbW/5lxDDVRmx4fZwRHf77QMVfworHea2SkYxOUA=="
    static let leftPad = "sha512-XRcglhh3p2lHAu4gFg75i5owZ3/uttIZh11iKj+W2fqc4Iu8OvwIHkDSftaw4gURo0WA2fT2oguwTa4HChLwJw=="
    static let lodash = "sha512-WWBGtyfDRrPIzxFy0HaPccRrj678i95zax2MixXJQT5RTkjHJJWsd/YhWwqy4EaG9POVDAK/RjxiWi0jaoAHnA=="
    static let privateThing = "sha512-7/4ofSbSIHy5mDodu2CwscfwHzKO/6Cf1iB6NUvwmeAzdpf6AbbKCXCl1Da7mcsLgaH04w1nadCBjTgvWKa0mA=="
    static let withBundle = "sha512-9j0x1Qwr/+XXzwSfpW5feaSsUSJrD2uSmkt10oWzLYvYfOFpcCOohUT/RU3YYTw7SEvtpg91PkmeRq8Febf2Aw=="
    static let react = "sha512-/3IjMdb2L9QbBdWiW5e3P2/npwMBaU9mHCSCUzNln0ZCYbcfTsGbTJrU/kGemdH2IWmB2ioZ+zkxtmq6g09fGQ=="
    static let reactDOM = "sha512-6IMTriUmvsjHUjNtEDudZfuDQUoWXVxKHhlEGSk81n4YFS+r/Kl99wXiwlVXtPBtJenozv2P+hxDsw9eA7Xo6g=="
    /// sha1 of "js-tokens", as Yarn classic's `#<hex>` fragment gives it.
    static let jsTokensSHA1 = "sha1-TUvWvZxzY3jqZmD5G/lMEzioQ2A="
}

extension Lockfile {
    /// The entry at `location` (the only one), for focused assertions.
    func entry(at location: String) -> LockfileEntry? {
        let matching = entries.filter { $0.location == location }
        return matching.count == 1 ? matching[0] : nil
    }
}
