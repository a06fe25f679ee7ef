import Foundation

/// Writes a whole file or nothing, for small files outside the package store (checkpoints):
/// the bytes go to a temporary file in the target's own directory, are fsynced, and are renamed
/// over the target; the directory is fsynced after. The one recipe for this lives in
/// ``FileOperations/writeAtomically(_:to:temporaryDirectory:)``.
public enum AtomicFile {
    public static func write(_ data: Data, to url: URL) throws {
        let directory = url.deletingLastPathComponent().path
        try data.withUnsafeBytes { bytes in
            try FileOperations().writeAtomically(bytes, to: url.path, temporaryDirectory: directory)
        }
    }
}
