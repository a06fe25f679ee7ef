import CompressNIO
import Crypto
import Foundation
import NIOCore

@testable import MirrorStore

/// The recorded npm fixtures, located from this file: `<repo>/Tests/Fixtures/npm-recorded/`.
enum Fixtures {
    static let directory: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent()  // MirrorStoreTests
        .deletingLastPathComponent()  // Tests
        .appendingPathComponent("Fixtures/npm-recorded")

    static func bytes(_ name: String) throws -> [UInt8] {
        Array(try Data(contentsOf: directory.appendingPathComponent(name)))
    }

    static func path(_ name: String) -> String {
        directory.appendingPathComponent(name).path
    }

    /// `versions[version].dist` of `packument-foobar.json`.
    static func foobarDist(_ version: String) throws -> (integrity: String, shasum: String) {
        let object = try JSONSerialization.jsonObject(with: Data(try bytes("packument-foobar.json")))
        let packument = object as? [String: Any]
        let versions = packument?["versions"] as? [String: Any]
        let dist = (versions?[version] as? [String: Any])?["dist"] as? [String: Any]
        guard let integrity = dist?["integrity"] as? String, let shasum = dist?["shasum"] as? String else {
            throw FixtureError.missing("dist of foobar@\(version)")
        }
        return (integrity, shasum)
    }

    enum FixtureError: Error { case missing(String) }
}

/// A fresh directory under /tmp, removed by `cleanUp()`.
struct TemporaryDirectory {
    let path: String

    init() throws {
        var template = Array("/tmp/mirrorstore-test-XXXXXX".utf8CString)
        guard let result = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw POSIXError(.EIO)
        }
        path = String(cString: result)
    }

    func cleanUp() {
        try? FileManager.default.removeItem(atPath: path)
    }

    func makeStore(shardLength: Int = 2, revisionsKept: Int = 2, faults: FaultInjection? = nil) throws -> PackageStore {
        try PackageStore(
            root: path + "/store",
            scratch: path + "/scratch",
            shardLength: shardLength,
            packumentRevisionsKept: revisionsKept,
            operations: FileOperations(faults: faults)
        )
    }
}

/// Files under `directory`, recursively, relative to it.
func listTree(_ directory: String) -> [String] {
    guard let enumerator = FileManager.default.enumerator(atPath: directory) else { return [] }
    var result: [String] = []
    while let next = enumerator.nextObject() as? String { result.append(next) }
    return result.sorted()
}

func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
    var buffer = ByteBufferAllocator().buffer(capacity: bytes.count)
    buffer.writeBytes(bytes)
    var compressed = try buffer.compress(with: .gzip())
    return compressed.readBytes(length: compressed.readableBytes) ?? []
}

func sha512Integrity(_ bytes: [UInt8]) -> String {
    "sha512-" + Data(SHA512.hash(data: bytes)).base64EncodedString()
}

/// Writes bytes into a new scratch file of `store`.
func scratchFile(in store: PackageStore, bytes: [UInt8]) throws -> ScratchFile {
    var writer = try store.makeScratchWriter()
    try writer.write(bytes)
    return try writer.finish()
}

/// Writes ustar archives by hand, so tests can make hostile ones libarchive would never write.
struct TarBuilder {
    enum EntryType: UInt8 {
        case file = 0x30  // '0'
        case hardlink = 0x31  // '1'
        case symlink = 0x32  // '2'
        case characterDevice = 0x33  // '3'
        case directory = 0x35  // '5'
    }

    private(set) var bytes: [UInt8] = []

    /// - Parameters:
    ///   - declaredSize: the size written in the header (default: the contents' size).
    ///   - writeData: false to write the header alone (a "bomb" claiming data that is not there).
    mutating func add(
        _ path: String,
        type: EntryType = .file,
        contents: [UInt8] = [],
        linkTarget: String = "",
        declaredSize: Int? = nil,
        writeData: Bool = true
    ) {
        var header = [UInt8](repeating: 0, count: 512)
        func put(_ text: String, at offset: Int, width: Int) {
            let utf8 = Array(text.utf8)
            precondition(utf8.count <= width, "\(text) does not fit in \(width) bytes")
            header.replaceSubrange(offset..<offset + utf8.count, with: utf8)
        }
        func octal(_ value: Int, at offset: Int, width: Int) {
            let digits = String(value, radix: 8)
            put(String(repeating: "0", count: width - 1 - digits.count) + digits, at: offset, width: width - 1)
        }
        put(path, at: 0, width: 100)
        octal(type == .directory ? 0o755 : 0o644, at: 100, width: 8)
        octal(0, at: 108, width: 8)
        octal(0, at: 116, width: 8)
        octal(declaredSize ?? (type == .file ? contents.count : 0), at: 124, width: 12)
        octal(1_320_372_778, at: 136, width: 12)
        put("        ", at: 148, width: 8)
        header[156] = type.rawValue
        put(linkTarget, at: 157, width: 100)
        put("ustar\u{0}00", at: 257, width: 8)
        put("root", at: 265, width: 32)
        put("root", at: 297, width: 32)
        let checksum = header.reduce(0) { $0 + Int($1) }
        let digits = String(checksum, radix: 8)
        put(String(repeating: "0", count: 6 - digits.count) + digits + "\u{0} ", at: 148, width: 8)
        bytes += header
        if writeData, type == .file, !contents.isEmpty {
            bytes += contents
            bytes += [UInt8](repeating: 0, count: (512 - contents.count % 512) % 512)
        }
    }

    mutating func addPackageJSON(name: String, version: String, folder: String = "package") {
        add("\(folder)/package.json", contents: Array("{\"name\":\"\(name)\",\"version\":\"\(version)\"}\n".utf8))
    }

    /// The archive with its two zero end blocks.
    func finished() -> [UInt8] {
        bytes + [UInt8](repeating: 0, count: 1024)
    }
}
