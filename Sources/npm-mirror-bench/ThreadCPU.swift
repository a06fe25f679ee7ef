#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#endif

import Foundation

/// The calling thread's CPU time.
enum ThreadCPU {
    static var now: Double {
        // (tv_sec, tv_nsec), read through raw memory: this module sees `timespec` through
        // CNIOLinux, whose members it may not name.
        var raw: (Int, Int) = (0, 0)
        withUnsafeMutableBytes(of: &raw) { bytes in
            _ = clock_gettime(CLOCK_THREAD_CPUTIME_ID, bytes.baseAddress!.assumingMemoryBound(to: timespec.self))
        }
        return Double(raw.0) + Double(raw.1) / 1e9
    }

    /// CPU seconds this thread spent in `body`.
    static func measure(_ body: () throws -> Void) throws -> Double {
        let start = now
        try body()
        return now - start
    }
}

/// The whole machine's busy CPU time, from `/proc/stat`.
enum MachineCPU {
    /// Seconds of user, nice, system, irq, softirq and steal time over all cores since boot; 0 where
    /// `/proc/stat` cannot be read.
    static func busySeconds() -> Double {
        guard let text = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
            let line = text.split(separator: "\n").first(where: { $0.hasPrefix("cpu ") })
        else { return 0 }
        let fields = line.split(separator: " ").dropFirst().compactMap { Double($0) }
        guard fields.count >= 8 else { return 0 }
        // user nice system idle iowait irq softirq steal
        let busy = fields[0] + fields[1] + fields[2] + fields[5] + fields[6] + fields[7]
        return busy / Double(sysconf(Int32(_SC_CLK_TCK)))
    }
}
