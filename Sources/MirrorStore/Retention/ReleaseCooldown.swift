import Foundation

/// `SERVE_MIN_AGE`: a version published less than ``minimumAge`` ago is held back from serving.
/// The one rule serve's documents and `npm-mirror check-lockfile` both apply.
public struct ReleaseCooldown: Sendable, Hashable {
    /// Seconds.
    public var minimumAge: Int64

    public init(minimumAge: Duration) {
        self.minimumAge = minimumAge.components.seconds
    }

    /// When a version published at `published` (a registry time, `time[version]`) is no longer held
    /// back, in seconds since 1970, if that is after `now`; nil when it is not held back, or when its
    /// time cannot be read (its age cannot be told, so it is served).
    public func heldBackUntil(published: String, now: Int64) -> Int64? {
        guard let date = VersionRetention.parseDate(published) else { return nil }
        let comesOfAge = Int64(date.timeIntervalSince1970.rounded(.up)) + minimumAge
        return comesOfAge > now ? comesOfAge : nil
    }

    /// A time in seconds since 1970 as ISO 8601 (when a held-back version comes of age).
    public static func time(_ seconds: Int64) -> String {
        Date(timeIntervalSince1970: TimeInterval(seconds)).formatted(.iso8601)
    }

    /// Seconds since 1970.
    public static func now() -> Int64 {
        Int64(Date().timeIntervalSince1970)
    }
}
