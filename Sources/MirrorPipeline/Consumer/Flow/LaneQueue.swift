import DequeModule
import MirrorKafka
import MirrorRuntime
import NPMRegistry
import Synchronization

/// One message on its way through a lane: the message, its change (decoded once, when it arrived),
/// and how its attempts have gone so far.
struct LaneJob: Sendable {
    let message: KafkaConsumerMessage
    /// Nil when the message is not a change message; then `decodingError` says why.
    let change: ChangeMessage?
    let decodingError: String?
    /// The ownership of its partition it was received in (``OffsetTracker/epoch(of:)``).
    var epoch = 0
    var attempts = 0
    /// Set by the first attempt: the retry budget (`PROCESSING_RETRY_MAX`) counts from here.
    var firstAttempt: ContinuousClock.Instant?
    var backoff = Backoff(base: .milliseconds(200), cap: .seconds(30))
}

/// The messages of one lane, kept per package so that a package that keeps failing does not hold up
/// the others.
///
/// - Per package, changes run one at a time and in the order they arrived (a package's messages
///   always reach the same lane, in partition order).
/// - A change that failed in a passing way is *parked* until its backoff is over; meanwhile the lane
///   takes the other packages. Later changes of the parked package queue behind it.
/// - A change is *superseded* when a later change of the same package is already here: the later one
///   reads the current packument anyway. A parked change is woken at once when that happens.
/// - At most `maxParked` changes are parked; beyond that a failing change waits out its backoff in
///   place (the lane slows down rather than holding an unbounded set).
///
/// The lane's worker takes work with ``next()`` and reports with ``finished(_:)`` or
/// ``park(_:until:)``; the poll loop adds with ``push(_:)``.
final class LaneQueue: Sendable {
    /// What ``next()`` hands the worker.
    enum Work: Sendable {
        /// Run this change. `superseded`: a later change of its package is already here.
        case run(LaneJob, superseded: Bool)
        /// The lane is finished (no more messages will come and none are left), or abandoned.
        case done
    }

    typealias Key = [UInt8]

    private struct Package {
        var jobs = Deque<LaneJob>()
        /// Its first job is being run by the worker.
        var running = false
        /// Its first job is parked until then.
        var parkedUntil: ContinuousClock.Instant?
        /// Fired when a later change of the package arrives while its first job runs.
        var supersession: Supersession?
    }

    private struct State {
        var packages: [Key: Package] = [:]
        /// The change the worker runs now, and since when.
        var running: (job: LaneJob, since: ContinuousClock.Instant)?
        /// Packages whose first job can be run now, in the order they became ready.
        var ready = Deque<Key>()
        var parked = 0
        var closed = false
        var abandoned = false
    }

    let maxParked: Int
    private let state = Mutex(State())
    private let wakeup = Wakeup()

    init(maxParked: Int) {
        self.maxParked = maxParked
    }

    /// Changes parked in this lane now.
    var parkedCount: Int { state.withLock { $0.parked } }

    /// The change the worker is running now and since when: what a stalled consumer waits on.
    var running: (job: LaneJob, since: ContinuousClock.Instant)? { state.withLock { $0.running } }

    /// Drops the queued and parked changes of `partitions` (revoked: their offsets belong to the
    /// partitions' next owner); a change being run stays until its worker reports. Returns how many
    /// were dropped.
    @discardableResult
    func drop(partitions: Set<KafkaTopicPartition>) -> Int {
        guard !partitions.isEmpty else { return 0 }
        let dropped = state.withLock { state in
            var dropped = 0
            for (key, package) in state.packages {
                var kept = Deque<LaneJob>()
                for (index, job) in package.jobs.enumerated() {
                    let partition = KafkaTopicPartition(topic: job.message.topic, partition: job.message.partition)
                    if (index == 0 && package.running) || !partitions.contains(partition) {
                        kept.append(job)
                    } else {
                        dropped += 1
                    }
                }
                guard kept.count != package.jobs.count else { continue }
                var package = package
                let firstDropped = !package.running && kept.first?.message.offset != package.jobs.first?.message.offset
                package.jobs = kept
                if firstDropped, package.parkedUntil != nil {
                    // Its parked change is gone: what follows it (another partition's) is ready now.
                    package.parkedUntil = nil
                    state.parked -= 1
                    if !kept.isEmpty { state.ready.append(key) }
                }
                state.packages[key] = kept.isEmpty && !package.running ? nil : package
            }
            // Keys of packages now gone are skipped when popped (``next()``).
            return dropped
        }
        wakeup.signal()
        return dropped
    }

    /// Whether a later change of `key`'s package than the one being run is here.
    func hasLaterChange(of key: Key) -> Bool {
        state.withLock { ($0.packages[key]?.jobs.count ?? 0) > 1 }
    }

    /// Whether more parked changes may be added.
    var canPark: Bool { state.withLock { $0.parked < maxParked } }

    /// The event that tells the running change of `key` a later change of its package has arrived.
    func supersession(of key: Key) -> Supersession {
        state.withLock { $0.packages[key]?.supersession } ?? .never
    }

    /// Adds a message that just arrived.
    func push(_ job: LaneJob) {
        let key = job.message.key ?? []
        let superseding = state.withLock { state -> Supersession? in
            guard !state.closed else { return nil }
            var package = state.packages[key] ?? Package()
            package.jobs.append(job)
            defer { state.packages[key] = package }
            if package.jobs.count == 1 {
                state.ready.append(key)
            } else if package.parkedUntil != nil {
                // The parked change is superseded now: wake it to be completed at once.
                package.parkedUntil = nil
                state.parked -= 1
                state.ready.append(key)
            }
            return package.running ? package.supersession : nil
        }
        superseding?.fire()
        wakeup.signal()
    }

    /// No more messages will come: the worker finishes what is here, then gets ``Work/done``.
    func close() {
        state.withLock { $0.closed = true }
        wakeup.signal()
    }

    /// Drops everything not yet started (graceful shutdown): it stays uncommitted and is done after
    /// the restart. Returns how many changes were dropped.
    @discardableResult
    func abandon() -> Int {
        let dropped = state.withLock { state in
            let count = state.packages.values.reduce(0) { $0 + $1.jobs.count - ($1.running ? 1 : 0) }
            state.closed = true
            state.abandoned = true
            state.packages = state.packages.filter(\.value.running).mapValues { package in
                var package = package
                package.jobs = Deque(package.jobs.prefix(1))
                return package
            }
            state.ready.removeAll()
            state.parked = 0
            return count
        }
        wakeup.signal()
        return dropped
    }

    /// The running change of `key` is finished: the package's next change may run.
    func finished(_ key: Key) {
        state.withLock { state in
            state.running = nil
            guard var package = state.packages[key] else { return }
            package.running = false
            package.jobs.removeFirst()
            if package.jobs.isEmpty || state.abandoned {
                state.packages[key] = nil
            } else {
                state.packages[key] = package
                state.ready.append(key)
            }
        }
        wakeup.signal()
    }

    /// The running change of `key` failed in a passing way: it waits until `until` (or until a later
    /// change of its package arrives) while the lane runs other packages.
    func park(_ job: LaneJob, until: ContinuousClock.Instant) {
        let key = job.message.key ?? []
        state.withLock { state in
            state.running = nil
            guard var package = state.packages[key], !package.jobs.isEmpty else { return }
            package.running = false
            if state.abandoned {
                state.packages[key] = nil
                return
            }
            package.jobs[package.jobs.startIndex] = job
            if package.jobs.count > 1 {
                // Superseded meanwhile: no need to wait.
                state.ready.append(key)
            } else {
                package.parkedUntil = until
                state.parked += 1
            }
            state.packages[key] = package
        }
        wakeup.signal()
    }

    /// Whether the lane's worker waits for work now.
    var isWaiting: Bool { wakeup.hasWaiter }

    /// The next change to run: the first ready package's first change, waiting for one when none is
    /// ready (a new message, or the end of a parked change's backoff). A cancelled task gets
    /// ``Work/done``: its waits end at once, so it must not wait again.
    func next() async -> Work {
        while !Task.isCancelled {
            let (work, wakeAt) = state.withLock { state -> (Work?, ContinuousClock.Instant?) in
                if state.abandoned { return (.done, nil) }
                let now = ContinuousClock.now
                var earliest: ContinuousClock.Instant?
                if state.parked > 0 {
                    for (key, package) in state.packages {
                        guard let until = package.parkedUntil else { continue }
                        if until <= now {
                            state.packages[key]?.parkedUntil = nil
                            state.parked -= 1
                            state.ready.append(key)
                        } else {
                            earliest = min(earliest ?? until, until)
                        }
                    }
                }
                while let key = state.ready.popFirst() {
                    // A key whose package was dropped (revoked), is running or is parked is stale.
                    guard var package = state.packages[key], !package.running, package.parkedUntil == nil, let job = package.jobs.first else { continue }
                    package.running = true
                    let superseded = package.jobs.count > 1
                    package.supersession = Supersession()
                    if superseded { package.supersession?.fire() }
                    state.packages[key] = package
                    state.running = (job, now)
                    return (.run(job, superseded: superseded), nil)
                }
                if state.closed && state.packages.isEmpty { return (.done, nil) }
                return (nil, earliest)
            }
            if let work { return work }
            await wakeup.wait(until: wakeAt)
        }
        return .done
    }
}

/// A one-waiter wake-up signal: ``signal()`` wakes the waiter, or the next ``wait(until:)`` when
/// nobody waits now. A wait also ends at its deadline or when its task is cancelled.
final class Wakeup: Sendable {
    private struct State {
        var pending = false
        var waiter: CheckedContinuation<Void, Never>?
    }
    private let state = Mutex(State())

    /// Whether a task waits for a signal now.
    var hasWaiter: Bool { state.withLock { $0.waiter != nil } }

    func signal() {
        let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard let waiter = state.waiter else {
                state.pending = true
                return nil
            }
            state.waiter = nil
            return waiter
        }
        waiter?.resume()
    }

    func wait(until deadline: ContinuousClock.Instant?) async {
        if state.withLock({ state in
            defer { state.pending = false }
            return state.pending
        }) {
            return
        }
        guard let deadline else { return await waitForSignal() }
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await self.waitForSignal() }
            group.addTask { try? await Task.sleep(until: deadline) }
            await group.next()
            group.cancelAll()
        }
    }

    private func waitForSignal() async {
        await withTaskCancellationHandler {
            await withCheckedContinuation { continuation in
                let resumeNow = state.withLock { state -> Bool in
                    if state.pending || Task.isCancelled {
                        state.pending = false
                        return true
                    }
                    state.waiter = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<Void, Never>? in
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume()
        }
    }
}
