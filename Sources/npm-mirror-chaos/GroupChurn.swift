import Foundation
import MirrorConfig
import MirrorHarness
import MirrorKafka
import MirrorRuntime
import NPMRegistry
import RegistrySimulator

extension Suite {
    /// Three consumers of one group while members leave (SIGTERM or SIGKILL) and rejoin every few
    /// seconds, the producer following the feed throughout, and a few hot packages getting new
    /// revisions in bursts, so one package's changes move between members mid-flight: a member that
    /// lost a partition may still be fetching tarballs for a revision older than the one its new
    /// owner stores. Slow and failing tarballs widen the gap between a packument read and its store.
    /// A quarter of `--packages` generated packages, consumed before the churn starts.
    /// Afterwards: the audit; every package at the registry's newest revision in the store and in its
    /// record; and the store write log (`NPM_MIRROR_STORE_WRITE_LOG`, one line per revision made
    /// current, from every member) shows no package's current revision ever going backwards.
    func groupChurn() async throws -> String {
        return try await withSimulator(packages: packages / 4) { simulator in
            let rig = try rig("group-churn", simulator: simulator)
            // Default settings, but the rig's short session timeout so the group rebalances quickly.
            var settings = Self.defaultSettings
            settings[.kafkaSessionTimeout] = "6s"
            let hot = Array(simulator.notablePackages.ordinary.prefix(8))
            guard hot.count >= 5 else { throw ChaosError("the workload has too few ordinary packages for hot ones") }
            // Slow tarballs widen the gap between a packument read and its store (a change can still be
            // mid-attempt when its partition moves to another member); failing ones add retries.
            simulator.faults.add([
                FaultRule(kind: .slowResponse, targets: [.tarball], probability: 0.3, delayMilliseconds: 700),
                FaultRule(kind: .httpError, targets: [.tarball], probability: 0.05, status: 503),
                FaultRule(kind: .httpError, targets: [.tarball], probability: 0.03, status: 500),
            ])
            let writeLog = "\(rig.directory)/logs/store-writes.tsv"
            let environment = [StoreWriteLog.environmentName: writeLog]

            try await rig.produceToEnd()
            // Where the generated packages' changes end in each partition: the churn starts once the
            // group has committed them, so it meets the hot packages' changes, not a backlog.
            let backlog = try await TopicReader.uncommitted(rig.topic, group: rig.group, bootstrapServers: kafka.bootstrapServers, logger: logger)
            let producer = try await rig.startProducer(exitWhenCaughtUp: false)

            // New revisions of the hot packages until the churn is over, a burst of two or three of one
            // package at a time (new versions, now and then a dist-tag move), a moment apart: its
            // changes arrive close together, each read of its packument may find a newer revision, and
            // a member that lost the partition mid-change may still be about to store an older one.
            // The packages take turns, so each gets a burst every few seconds.
            let publishing = Task { [seed] () -> [String: Int] in
                var random = SplitMixRandom(seed: seed &+ 11)
                var published: [String: Int] = [:]
                var turn = 0
                while !Task.isCancelled {
                    let name = hot[turn % hot.count]
                    turn += 1
                    for _ in 0..<Int.random(in: 2...3, using: &random) {
                        let change: LiveChange = Int.random(in: 0..<4, using: &random) == 0 ? .distTagMove(of: name) : .newVersion(of: name)
                        if (try? simulator.publish(change)) != nil { published[name, default: 0] += 1 }
                        try? await Task.sleep(for: .milliseconds(Int.random(in: 50...250, using: &random)))
                    }
                    try? await Task.sleep(for: .milliseconds(Int.random(in: 300...800, using: &random)))
                }
                return published
            }

            var started = 0
            func startMember() async throws -> Member {
                started += 1
                var memberSettings = settings
                memberSettings[.metricsFile] = "\(rig.directory)/logs/consumer-\(started).prom"
                // `--exit-when-idle`: while the feed moves the group never drains, so members run until
                // the end, then each exits 0 once the whole group has committed everything.
                return Member(try await rig.startConsumer(exitWhenIdle: 3, settings: memberSettings, environment: environment, log: "consumer-\(started)"))
            }

            var random = SplitMixRandom(seed: seed &+ 12)
            var members: [Member] = []
            // Twelve membership changes: six departures, half SIGTERM and half SIGKILL in a seeded order,
            // each followed a few seconds later by a rejoin. Every change is a rebalance, and after a
            // SIGKILL the group first waits out the dead member's 6 s session: closer together, the group
            // would never settle between them and nothing would be processed. The member that leaves is
            // the one that has been in the group longest, so each has held partitions before it goes; a
            // SIGTERMed member may still be handing its partitions back while its replacement joins.
            var signals = Array(repeating: SIGTERM, count: 3) + Array(repeating: SIGKILL, count: 3)
            signals.shuffle(using: &random)
            // The last one a SIGTERM: after a SIGKILL the group waits out the dead member's session
            // before it rebalances, which would only lengthen the drain at the end.
            if signals.last == SIGKILL, let term = signals.lastIndex(of: SIGTERM) { signals.swapAt(term, signals.count - 1) }
            var departures: [(signal: Int32, member: Member, sentAt: ContinuousClock.Instant)] = []
            var terms = 0
            var kills = 0
            var idleExits = 0
            let bound = 30.0
            do {
                let begin = ContinuousClock.now
                // All three at once: one rebalance, not three.
                for _ in 0..<3 { members.append(try await startMember()) }
                let deadline = begin + .seconds(60)
                while ContinuousClock.now < deadline {
                    let committed = try await TopicReader.committed(rig.topic, group: rig.group, bootstrapServers: kafka.bootstrapServers, logger: logger)
                    if backlog.allSatisfy({ (committed[$0.partition] ?? 0) >= $0.high }) { break }
                    try await Task.sleep(for: .milliseconds(500))
                }
                for (round, signal) in signals.enumerated() {
                    try await Task.sleep(for: .milliseconds(Int.random(in: 2500...3500, using: &random)))
                    // A member that ended by itself (idle for a moment) is replaced first.
                    for slot in members.indices where members[slot].process.hasEnded {
                        let result = try await members[slot].ending.value.result
                        guard result.succeeded else { throw ChaosError("a group member ended with \(result.ending) by itself; see \(rig.directory)/logs") }
                        idleExits += 1
                        members[slot] = try await startMember()
                    }
                    let slot = round % members.count
                    members[slot].process.send(signal)
                    departures.append((signal, members[slot], ContinuousClock.now))
                    // Back after a while with the group one member short.
                    try await Task.sleep(for: .milliseconds(Int.random(in: 2000...3000, using: &random)))
                    members[slot] = try await startMember()
                }
                // How each departure went: a SIGTERMed member exits 0 within the bound.
                for departure in departures {
                    let (result, endedAt) = try await departure.member.ended(within: .seconds(bound * 2))
                    if departure.signal == SIGTERM {
                        let took = (endedAt - departure.sentAt).seconds
                        guard result.succeeded, took <= bound else {
                            throw ChaosError("a group member ended with \(result.ending) \(String(format: "%.1f", took)) s after SIGTERM (bound \(Int(bound)) s); see \(rig.directory)/logs")
                        }
                        terms += 1
                    } else if result.signal == SIGKILL {
                        kills += 1
                    } else {
                        guard result.succeeded else { throw ChaosError("a group member ended with \(result.ending) before its SIGKILL") }
                        idleExits += 1
                    }
                }
            } catch {
                publishing.cancel()
                producer.send(SIGKILL)
                for member in members + departures.map(\.member) { member.process.send(SIGKILL) }
                throw error
            }
            tally.update {
                $0.kills += kills
                $0.gracefulStops += terms
            }

            // The end: publishing stops, the producer stops (SIGTERM) and a last one catches up with the
            // feed, then every member finishes on its own (`--exit-when-idle`), exit 0.
            publishing.cancel()
            let published = await publishing.value
            producer.send(SIGTERM)
            let producerResult = try await producer.wait(timeout: .seconds(60))
            guard producerResult.succeeded else { throw ChaosError("changes-producer ended with \(producerResult.ending) after SIGTERM") }
            try await rig.produceToEnd()
            if members.allSatisfy({ $0.process.hasEnded }) { members.append(try await startMember()) }
            for member in members {
                let result = try await member.ended(within: .seconds(300)).result
                guard result.succeeded else { throw ChaosError("a group member ended with \(result.ending) instead of exiting 0 once idle; see \(rig.directory)/logs") }
            }

            let audit = try await audit(rig)
            let deleted = Set(simulator.notablePackages.deleted)
            let revisions = try await RevisionAudit.of(rig, names: simulator.packageNames.filter { !deleted.contains($0) })
            guard revisions.clean else {
                throw ChaosError("\(revisions.mismatches.count) of \(revisions.checked) packages not at the registry's newest revision: \(revisions.mismatches.prefix(5).joined(separator: "; "))")
            }
            let log = try StoreWriteLog.read(writeLog)
            guard log.clean else { throw ChaosError(log.problems.joined(separator: "; ")) }
            let hotWrites = hot.map { log.writes[$0] ?? 0 }
            guard hotWrites.contains(where: { $0 >= 2 }) else {
                throw ChaosError("no hot package was made current more than once (\(hotWrites)): the write log's order check compared nothing that churned")
            }
            let staleRefused = Self.staleWritesRefused(in: "\(rig.directory)/logs")
            let hotPublished = published.values.reduce(0, +)
            let faultsFired = simulator.faults.firedCounts.values.reduce(0, +)
            tally.update { $0.faultsInjected += faultsFired }
            return "\(2 * (terms + kills)) membership changes among 3 members: \(terms + kills) departures (\(terms) SIGTERM, \(kills) SIGKILL), each followed by a rejoin\(idleExits > 0 ? " (\(idleExits) idle exits replaced)" : ""); "
                + "\(hotPublished) revisions of \(hot.count) hot packages; \(faultsFired) slow or failing tarballs; \(log.lines) store writes logged (hot packages \(hotWrites.min()!)–\(hotWrites.max()!) each), "
                + "\(log.successions) successive writes of a package compared, none went backwards; stale writes refused \(staleRefused ?? "not reported"); "
                + "\(revisions.checked) packages at the registry's newest revision in store and records; \(audit.distinctSeqs) changes recorded once"
        }
    }

    /// `npm_mirror_consumer_stale_writes_refused_total` summed over the members' final metrics
    /// (`consumer-N.prom`; a SIGKILLed member writes none, so its count is lost), in all and by
    /// target (`store`, `record`), or nil when no member reported the metric.
    private static func staleWritesRefused(in folder: String) -> String? {
        let name = "npm_mirror_consumer_stale_writes_refused_total"
        let files = ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []).filter { $0.hasPrefix("consumer-") && $0.hasSuffix(".prom") }
        let metrics = files.compactMap { try? MetricsText(contentsOf: "\(folder)/\($0)") }
        guard metrics.contains(where: { metric in metric.samples.contains { $0.name == name } }) else { return nil }
        func sum(_ labels: [String: String]) -> Int { Int(metrics.reduce(0) { $0 + $1.sum(name, matching: labels) }) }
        return "\(sum([:])) (store \(sum(["target": "store"])), record \(sum(["target": "record"])), by the \(files.count) members that exited)"
    }
}

/// A consumer of the group and its ending, watched from the start so the churn can see a member
/// that ended by itself, and when a member it stopped was gone.
struct Member: Sendable {
    let process: ChildProcess
    let ending: Task<(result: ChildResult, at: ContinuousClock.Instant), any Error>

    init(_ process: ChildProcess) {
        self.process = process
        ending = Task {
            let result = try await process.wait()
            return (result, ContinuousClock.now)
        }
    }

    /// Waits for the member to end, SIGKILLing it after `timeout`: how it ended, and when.
    func ended(within timeout: Duration) async throws -> (result: ChildResult, at: ContinuousClock.Instant) {
        let killer = Task { [process] in
            try await Task.sleep(for: timeout)
            process.send(SIGKILL)
        }
        defer { killer.cancel() }
        return try await ending.value
    }
}
