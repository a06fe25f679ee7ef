import Foundation

extension BenchResults {
    /// The figures as one plain-text table per section, for a terminal or an issue note.
    var table: String {
        var lines: [String] = []
        lines.append("npm-mirror benchmark — \(machine.build) build, \(machine.cores) cores, \(machine.cpu), \(String(format: "%.0f", Double(machine.memoryBytes) / Double(1 << 30))) GiB, Linux \(machine.kernel); seed \(seed), concurrency \(concurrency)"
            + (databaseLatencyMilliseconds > 0 ? ", database latency \(databaseLatencyMilliseconds) ms" : ""))
        lines.append("")
        var rows: [[String]] = [["variant", "stage", "work", "seconds", "rate", "MB/s", "peak RSS", "CPU s", "machine CPU s"]]
        for variant in variants {
            let name = variant.workload.name
            rows.append([name, "producer (feed only)", "\(variant.producer.changes) changes", f(variant.producer.wallSeconds), "\(f0(variant.producer.changesPerSecond)) changes/s", "", mb(variant.producer.peakRSSBytes), f(variant.producer.cpuSeconds)])
            rows.append([name, "producer (end to end)", "\(variant.producerEndToEnd.changes) changes", f(variant.producerEndToEnd.wallSeconds), "\(f0(variant.producerEndToEnd.changesPerSecond)) changes/s", "", mb(variant.producerEndToEnd.peakRSSBytes), f(variant.producerEndToEnd.cpuSeconds)])
            for (label, consumer) in [("consumer", variant.consumer), ("consumer (metadata only)", variant.metadataOnly)] {
                rows.append([name, label, "\(consumer.changes) pkgs, \(consumer.tarballs) tgz", "\(f(consumer.workingSeconds)) (wall \(f(consumer.wallSeconds)))", "\(f0(consumer.packagesPerSecond)) pkgs/s", f(consumer.tarballMBPerSecond), mb(consumer.peakRSSBytes), f(consumer.cpuSeconds), f(consumer.machineCPUSeconds)])
            }
            rows.append([name, "curl (same URLs)", "\(variant.curl.urls) URLs, \(mb(variant.curl.bytes))", f(variant.curl.wallSeconds), "", f(variant.curl.mbPerSecond), mb(variant.curl.peakRSSBytes), ""])
            rows.append([name, "consumer ÷ curl", String(format: "%.2f × curl", variant.consumerVsCurl), "", "", "", "", variant.urlSetDifference == 0 ? "same URLs" : "\(variant.urlSetDifference) URLs differ"])
            let packuments = variant.curlPackuments
            rows.append([name, "curl (packuments only)", "\(packuments.urls) URLs, \(mb(packuments.bytes))", f(packuments.wallSeconds), "\(f0(packuments.wallSeconds > 0 ? Double(packuments.urls) / packuments.wallSeconds : 0)) pkgs/s", f(packuments.mbPerSecond), mb(packuments.peakRSSBytes), ""])
            rows.append([name, "metadata only ÷ curl", String(format: "%.2f × curl", variant.metadataOnlyVsCurl), "", "", "", "", ""])
            if let verify = variant.verify {
                rows.append([name, "npm-mirror verify", "\(verify.packages) pkgs, \(verify.tarballs) tgz, \(verify.holds ? "holds" : "\(verify.failures) failures")", f(verify.wallSeconds), String(format: "%.2f × (SHA-512 %.0f MB/s × %d cores)", verify.shareOfFloor, verify.sha512SingleCoreMBPerSecond, verify.cores), f(verify.mbPerSecond), "", ""])
            }
            if let export = variant.export {
                rows.append([name, "npm-mirror export (\(export.format))", "\(export.packages) pkgs, \(export.rows) rows, \(mb(export.bytes))", f(export.wallSeconds), "\(f0(export.rowsPerSecond)) rows/s", "", mb(export.peakRSSBytes), f(export.cpuSeconds)])
            }
            if let cost = variant.cost {
                let metadata = cost.metadataFloor, tarball = cost.tarballFloor
                rows.append([name, "consumer CPU, metadata", String(format: "%.2f ms/package", cost.metadataCPUMillisecondsPerPackage),
                    String(format: "floor %.3f ms", cost.metadataFloorMillisecondsPerPackage),
                    String(format: "gzip %.2f s + write, fsync %.2f s", metadata.gzipCPUSeconds, metadata.writeCPUSeconds), "", "", String(format: "%.1f × floor", cost.metadataMultiple)])
                rows.append([name, "consumer CPU, tarballs", String(format: "%.2f ms/MB", cost.tarballCPUMillisecondsPerMB),
                    String(format: "floor %.2f ms/MB", cost.tarballFloorMillisecondsPerMB),
                    String(format: "\(tarball.sha1Tarballs > 0 ? "SHA-512/SHA-1" : "SHA-512") %.2f s + gunzip, tar %.2f s", tarball.digestCPUSeconds, tarball.archiveCPUSeconds), "", "", String(format: "%.1f × floor", cost.tarballMultiple)])
            }
            if let pair = variant.memoryPair {
                rows.append([name, "memory pair", "\(variant.workload.memoryPairPackages) pkgs ± \(mb(Int64(pair.hugeTarballBytes))) tgz", "", "", "", "\(mb(pair.withoutPeakRSSBytes)) → \(mb(pair.withPeakRSSBytes))", String(format: "%+.1f MB", Double(pair.differenceBytes) / 1e6)])
            }
        }
        lines += Self.render(rows)
        for variant in variants {
            for (label, consumer) in [("consumer", variant.consumer), ("metadata only", variant.metadataOnly)] {
                lines.append("")
                lines.append("Where the time goes (\(variant.workload.name), \(label); lane-seconds summed over \(concurrency) lanes):")
                var stageRows: [[String]] = [["stage", "seconds", "count", "share"]]
                for stage in consumer.stages {
                    stageRows.append([stage.stage, f(stage.seconds), "\(stage.count)", String(format: "%.0f%%", stage.share * 100)])
                }
                lines += Self.render(stageRows).map { "  " + $0 }
            }
        }
        lines.append("")
        lines.append("Targets:")
        for target in targets {
            let verdict = target.met.map { $0 ? "met" : "MISSED" } ?? "not judged (\(machine.build == "release" ? "smoke run" : "debug build"))"
            lines.append("  \(target.target): \(target.measured) — \(verdict)")
        }
        return lines.joined(separator: "\n")
    }

    private static func render(_ rows: [[String]]) -> [String] {
        // Rows shorter than the header are padded with empty cells.
        let rows = rows.map { $0 + Array(repeating: "", count: max(0, rows[0].count - $0.count)) }
        let widths = rows[0].indices.map { column in rows.map { $0[column].count }.max() ?? 0 }
        return rows.enumerated().flatMap { index, row -> [String] in
            let line = row.enumerated().map { $1.padding(toLength: widths[$0], withPad: " ", startingAt: 0) }.joined(separator: "  ")
            let trimmed = String(line.reversed().drop { $0 == " " }.reversed())
            return index == 0 ? [trimmed, String(repeating: "-", count: widths.reduce(0, +) + 2 * (widths.count - 1))] : [trimmed]
        }
    }
}

private func f(_ value: Double) -> String { String(format: "%.2f", value) }
private func f0(_ value: Double) -> String { String(format: "%.0f", value) }
private func mb(_ bytes: Int64) -> String { String(format: "%.1f MB", Double(bytes) / 1e6) }
