import Foundation
import CoreMetrics
import Logging
import MirrorRuntime
import MirrorKafka
import MirrorRecords
import MirrorStore
import NPMRegistry
import ServiceLifecycle

// The consumer service's housekeeping: topic gaps, the idle rule, rebalance events, the periodic
// commit with its lag and Progress line, and the stall watchdog. Each runs beside the poll loop.

extension ChangesConsumerService {
    /// Logs and counts the changes the topic no longer held when this member reached them.
    func checkGaps(_ messages: [KafkaConsumerMessage], _ gaps: inout OffsetGaps) async {
        var found: [OffsetGaps.Gap] = []
        for message in messages {
            if let gap = gaps.observe(KafkaTopicPartition(topic: message.topic, partition: message.partition), offset: message.offset) { found.append(gap) }
        }
        // Where a partition's first message should be: the group's committed offset (0 when none).
        // When the broker cannot say now, it is asked again after the next poll.
        let unresolved = gaps.unresolved
        if !unresolved.isEmpty, let committed = try? await consumer.committedOffsets(for: unresolved) {
            for partition in unresolved {
                if let gap = gaps.resolve(partition, start: committed[partition] ?? 0) { found.append(gap) }
            }
        }
        for gap in found {
            metrics.missedChanges.increment(by: gap.count)
            logger.error(
                "Changes were deleted from the topic before this group consumed them: the mirror misses them",
                metadata: [
                    "kafka.partition": "\(gap.partition)", "kafka.offsets": "\(gap.from)..<\(gap.to)", "count": "\(gap.count)",
                    "hint": "the topic's retention is shorter than the backlog: set retention.ms=-1 on it (README, Operations) and replay the missing changes with the producer (UPDATE_SEQ)",
                ]
            )
        }
    }

    func checkIdle(_ rule: inout IdleRule) async -> IdleRule.Decision {
        let now = ContinuousClock.now
        let busy = state.tracker({ $0.inFlight }) > 0 || lanes.contains { $0.parkedCount > 0 } || now - state.lastActivity < rule.idle
        // The broker is asked only when this member has nothing to do.
        var positions: [KafkaGroupPosition]?
        if !busy {
            positions = try? await consumer.groupPositions(topic: settings.topic)
            if let positions { metrics.lag.record(positions.reduce(0) { $0 + $1.uncommitted }) }
        }
        return rule.observe(now: now, busy: busy, positions: positions)
    }

    /// Assignments count as activity. Revocations need nothing here: the revoke handler (set in
    /// ``run()``) dropped their work and committed what was done, inside the rebalance.
    func watchRebalances() async {
        for await event in consumer.rebalanceEvents {
            if case .assigned = event { state.assigned() }
        }
    }

    func commitPeriodically() async {
        var lagDue = ContinuousClock.now
        var lag: Int64?
        var report = ProgressLine(since: .now, last: progress)
        while !Task.isCancelled {
            try? await Task.sleep(for: settings.commitInterval)
            await committer.commitDone()
            let now = ContinuousClock.now
            if now >= lagDue {
                lagDue = now + .seconds(10)
                if let partitions = try? await consumer.lag() {
                    let total = partitions.values.reduce(0, +)
                    metrics.lag.record(total)
                    lag = total
                }
            }
            if now - report.since >= settings.progressInterval {
                report.log(progress, lag: lag, now: now, to: logger)
            }
        }
    }

    // MARK: Stall watchdog

    /// Looks every ``Settings/stallCheckInterval`` whether this member is stuck (``StallRule``);
    /// when it is, logs what each lane waits on and makes the poll loop end the run with
    /// ``ConsumerStalled``. Keeps `npm_mirror_consumer_seconds_since_completed` up to date.
    func watchForStall() async {
        var rule = StallRule(timeout: settings.stallTimeout, start: .now)
        let interval = min(settings.stallCheckInterval, settings.stallTimeout / 4)
        while !Task.isCancelled {
            try? await Task.sleep(for: interval)
            guard !Task.isCancelled else { return }
            let now = ContinuousClock.now
            let lag = (try? await consumer.lag())?.values.reduce(0, +)
            let decision = rule.observe(
                now: now,
                lastCompleted: state.lastCompleted,
                lastAssigned: state.lastAssigned,
                assigned: !consumer.assignment.isEmpty,
                lag: lag,
                parked: lanes.reduce(0) { $0 + $1.parkedCount }
            )
            metrics.secondsSinceCompleted.record(rule.stalledFor(now: now) / .seconds(1))
            guard case .stalled(let waited) = decision else { continue }
            let waits = lanes.enumerated().compactMap { index, lane -> String? in
                guard let (job, since) = lane.running else { return nil }
                return "lane \(index): \(job.change.map { "\($0.id) (seq \($0.seq))" } ?? "an undecodable message") at offset \(job.message.offset) of partition \(job.message.partition), attempt \(job.attempts + 1), running for \(now - since)"
            }
            let waitingOn = waits.isEmpty ? "no change is running: the lanes are empty while the group has lag (fetching is stuck)" : waits.joined(separator: "; ")
            logger.critical(
                "No change completed while there was work: the consumer is stuck; exiting so its supervisor restarts it",
                metadata: ["waited": "\(waited)", "lag": "\(lag ?? -1)", "waiting_on": "\(waitingOn)", "in_flight": "\(state.tracker { $0.inFlight })"]
            )
            state.stall(ConsumerStalled(description: "no change completed for \(waited) with a lag of \(lag ?? -1) (CONSUMER_STALL_TIMEOUT); waiting on: \(waitingOn)"))
            guard let grace = settings.stallExitGrace else { return }
            // This task is cancelled when the run ends; a wait that ignores cancellation keeps it going.
            try? await Task.sleep(for: grace)
            guard !Task.isCancelled else { return }
            logger.critical("The stalled consumer did not stop within \(grace); exiting now", metadata: ["waiting_on": "\(waitingOn)"])
            exit(70)
        }
    }
}
