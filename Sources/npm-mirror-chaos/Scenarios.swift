import CouchDBDouble
import Foundation
import Logging
import MirrorConfig
import MirrorHarness
import MirrorKafka
import MirrorPipeline
import MirrorRuntime
import MirrorRecords
import NPMRegistry
import RegistrySimulator
import NPMNames

/// The scenarios. Each builds a rig, does its damage, lets the pipeline finish, and audits.
struct Suite: Sendable {
    let binaries: String
    let workDirectory: String
    let kafka: EmbeddedKafkaCluster
    let couch: CouchDBDouble
    let tally: Tally
    let kills: Int
    let packages: Int
    let seed: UInt64
    let logger: Logger

    static let names = [
        "consumer-kills", "producer-kills", "graceful-stop", "kafka-faults", "registry-faults", "registry-liveness", "idle-after-kills",
        "couchdb-faults", "disk-full", "hostile-input", "secrets", "group-churn",
    ]

    func run(_ name: String) async {
        let start = ContinuousClock.now
        logger.notice("scenario \(name)")
        do {
            let detail: String
            switch name {
            case "consumer-kills": detail = try await consumerKills()
            case "producer-kills": detail = try await producerKills()
            case "graceful-stop": detail = try await gracefulStop()
            case "kafka-faults": detail = try await kafkaFaults()
            case "registry-faults": detail = try await registryFaults()
            case "registry-liveness": detail = try await registryLiveness()
            case "idle-after-kills": detail = try await idleAfterKills()
            case "couchdb-faults": detail = try await couchDBFaults()
            case "disk-full": detail = try await diskFull()
            case "hostile-input": detail = try await hostileInput()
            case "secrets": detail = try await secrets()
            case "group-churn": detail = try await groupChurn()
            default: throw ChaosError("unknown scenario \(name); known: \(Self.names.joined(separator: ", "))")
            }
            let outcome = detail.hasPrefix("skipped") ? "skipped" : "passed"
            tally.update { $0.scenarios.append((name, outcome, "\(detail) [\(String(format: "%.0f", (ContinuousClock.now - start).seconds)) s]")) }
        } catch {
            logger.error("scenario \(name) failed: \(error)")
            tally.update { $0.scenarios.append((name, "FAILED", "\(error)")) }
        }
    }

    // MARK: Rigs

    private func simulatorConfiguration(packages: Int, faults: [FaultRule], hugeTarballBytes: Int) -> RegistrySimulator.Configuration {
        var configuration = RegistrySimulator.Configuration()
        configuration.packages = packages
        configuration.seed = seed
        configuration.faults = faults
        configuration.hugeTarballBytes = hugeTarballBytes
        return configuration
    }

    private static let simulatorLogger = Logger(label: "chaos.simulator", factory: { _ in SwiftLogNoOpLogHandler() })

    /// Runs `body` beside a simulator and stops it afterwards (also on failure).
    func withSimulator<T>(
        packages: Int,
        faults: [FaultRule] = [],
        hugeTarballBytes: Int = 0,
        _ body: (RegistrySimulator) async throws -> T
    ) async throws -> T {
        try await withRegistrySimulator(
            configuration: simulatorConfiguration(packages: packages, faults: faults, hugeTarballBytes: hugeTarballBytes),
            logger: Self.simulatorLogger,
            body
        )
    }

    func rig(_ name: String, simulator: RegistrySimulator, kafka: EmbeddedKafkaCluster? = nil, replicationFactor: Int = 1, settings: [Setting: String] = [:]) throws -> Rig {
        try Rig(
            name: name, directory: "\(workDirectory)/\(name)", binaries: binaries, simulator: simulator, kafka: kafka ?? self.kafka,
            couch: couch, replicationFactor: replicationFactor, extraSettings: settings, logger: logger
        )
    }

    /// Audits the rig, adds the figures to the tally and throws if a promise was broken.
    func audit(_ rig: Rig, allowedDeadLetters: Set<String> = []) async throws -> Audit {
        let audit = try await Audit.of(rig, allowedDeadLetters: allowedDeadLetters)
        tally.add(audit)
        guard audit.clean else {
            throw ChaosError(
                "lost \(audit.changesLost), duplicates \(audit.duplicates), partial files \(audit.partialFiles), bad tarballs \(audit.badTarballs), "
                    + "files outside \(audit.filesOutside), uncommitted partitions \(audit.uncommittedPartitions); \(audit.problems.joined(separator: "; "))"
            )
        }
        return audit
    }

    // MARK: Crash and restart

    /// SIGKILL the consumer at random moments of its work, again and again, then let it finish.
    private func consumerKills() async throws -> String {
        // Slow tarballs and a slow database widen the windows the kills should land in: mid-download,
        // between store and record, inside a `_bulk_docs`, before a commit.
        return try await withSimulator(packages: packages, faults: [FaultRule(kind: .slowResponse, targets: [.tarball], probability: 0.2, delayMilliseconds: 300)]) { simulator in
            let rig = try rig("consumer-kills", simulator: simulator)
            couch.setDelay(.milliseconds(20))
            defer { couch.setDelay(nil) }
            try await rig.produceToEnd()
            var random = SplitMixRandom(seed: seed)
            var killed = 0
            for _ in 0..<kills {
                let baseline = simulator.requestTotal
                let consumer = try await rig.startConsumer()
                // Kill only once it is at work (past start-up and the group join), at a random moment after.
                _ = await rig.waitForRequests(beyond: baseline, timeout: .seconds(30))
                try await Task.sleep(for: .milliseconds(Int.random(in: 0...1200, using: &random)))
                consumer.send(SIGKILL)
                let result = try await consumer.wait()
                if result.signal == SIGKILL { killed += 1 }
            }
            tally.update { $0.kills += killed }
            try await rig.consumeToEnd()
            let audit = try await audit(rig)
            return "\(killed) kills of changes-consumer over \(audit.distinctSeqs) changes; \(audit.tarballsChecked) tarballs verified"
        }
    }

    /// SIGKILL the producer mid-page, again and again; the topic must hold every seq at most twice,
    /// and the consumer's effect must still be once per change.
    private func producerKills() async throws -> String {
        return try await withSimulator(packages: packages * 4, faults: [FaultRule(kind: .slowResponse, targets: [.changes], probability: 1, delayMilliseconds: 150)]) { simulator in
            let rig = try rig("producer-kills", simulator: simulator, settings: [.changesLimit: "40", .fetchTarballs: "false"])
            var random = SplitMixRandom(seed: seed &+ 1)
            var killed = 0
            for _ in 0..<max(3, kills / 3) {
                let producer = try await rig.startProducer()
                try await Task.sleep(for: .milliseconds(Int.random(in: 200...900, using: &random)))
                producer.send(SIGKILL)
                if try await producer.wait().signal == SIGKILL { killed += 1 }
            }
            tally.update { $0.kills += killed }
            try await rig.produceToEnd()

            let messages = try await TopicReader.readAll(rig.topic, bootstrapServers: kafka.bootstrapServers, logger: logger)
            var copies: [Int64: Int] = [:]
            for message in messages {
                if let change = try? ChangeMessage.decode(message.value) { copies[change.seq, default: 0] += 1 }
            }
            let feed = Set(simulator.packageNames)
            let produced = try Set(messages.map { try ChangeMessage.decode($0.value).id })
            let missing = feed.subtracting(produced)
            let tooMany = copies.values.filter { $0 > 2 }.count
            guard missing.isEmpty, tooMany == 0 else {
                tally.update { $0.changesLost += missing.count }
                throw ChaosError("topic misses \(missing.count) changes of the feed; \(tooMany) seqs appear more than twice")
            }
            let repeated = copies.values.filter { $0 == 2 }.count
            try await rig.consumeToEnd()
            _ = try await audit(rig)
            return "\(killed) kills of changes-producer; \(feed.count) changes all in the topic, \(repeated) produced twice, each recorded once"
        }
    }

    /// SIGTERM in the middle of work: each process stops cleanly within a bound, and nothing is lost.
    private func gracefulStop() async throws -> String {
        return try await withSimulator(packages: packages / 2, faults: [
            FaultRule(kind: .slowResponse, targets: [.tarball], probability: 0.5, delayMilliseconds: 800),
            FaultRule(kind: .slowResponse, targets: [.changes], probability: 1, delayMilliseconds: 200),
        ]) { simulator in
            let rig = try rig("graceful-stop", simulator: simulator, settings: [.changesLimit: "20"])
            let bound = 30.0
            var slowest = 0.0
            // The producer, mid-feed.
            let producer = try await rig.startProducer()
            _ = await rig.waitForRequests(beyond: 0, more: 3)
            try await Task.sleep(for: .milliseconds(300))
            var stopAt = ContinuousClock.now
            producer.send(SIGTERM)
            var result = try await producer.wait(timeout: .seconds(bound * 2))
            slowest = max(slowest, (ContinuousClock.now - stopAt).seconds)
            guard result.exitCode == 0 else { throw ChaosError("changes-producer ended with \(result.ending) after SIGTERM") }
            try await rig.produceToEnd()
            // The consumer, mid-download.
            let baseline = simulator.requestTotal
            let consumer = try await rig.startConsumer()
            _ = await rig.waitForRequests(beyond: baseline, more: 20)
            stopAt = ContinuousClock.now
            consumer.send(SIGTERM)
            result = try await consumer.wait(timeout: .seconds(bound * 2))
            slowest = max(slowest, (ContinuousClock.now - stopAt).seconds)
            guard result.exitCode == 0 else { throw ChaosError("changes-consumer ended with \(result.ending) after SIGTERM") }
            // The consumer while the registry fails every request (its changes parked, backing off), and
            // while CouchDB is down (its record step retrying): SIGTERM still ends it promptly, exit 0.
            simulator.faults.add(FaultRule(kind: .httpError, targets: [.packument, .tarball], status: 503))
            for outage in ["registry", "couchdb"] {
                if outage == "couchdb" {
                    simulator.faults.removeAll()
                    await couch.goDown()
                }
                let before = simulator.requestTotal
                let stuck = try await rig.startConsumer()
                _ = await rig.waitForRequests(beyond: before, more: 10, timeout: .seconds(20))
                try await Task.sleep(for: .seconds(2))
                stopAt = ContinuousClock.now
                stuck.send(SIGTERM)
                result = try await stuck.wait(timeout: .seconds(bound * 2))
                slowest = max(slowest, (ContinuousClock.now - stopAt).seconds)
                if outage == "couchdb" { try await couch.comeBack() }
                guard result.exitCode == 0 else { throw ChaosError("changes-consumer ended with \(result.ending) after SIGTERM during a \(outage) outage") }
            }
            guard slowest <= bound else { throw ChaosError("a process took \(slowest) s to stop after SIGTERM (bound \(bound) s)") }
            tally.update { $0.gracefulStops += 4 }
            try await rig.consumeToEnd()
            let audit = try await audit(rig)
            return String(format: "producer and consumer (mid-download, registry outage, CouchDB outage) stopped within %.1f s of SIGTERM (bound %.0f s); %d changes recorded once", slowest, bound, audit.distinctSeqs)
        }
    }

    // MARK: Faults of the parts

    /// Kafka: request errors on produce, fetch and commit; a broker down for a while; a leader change.
    private func kafkaFaults() async throws -> String {
        let cluster = try EmbeddedKafkaCluster(brokerCount: 3, logger: Logger(label: "chaos.kafka", factory: { _ in SwiftLogNoOpLogHandler() }))
        return try await withSimulator(packages: packages / 2) { simulator in
            let rig = try rig("kafka-faults", simulator: simulator, kafka: cluster, replicationFactor: 3)
            var injected = 0
            cluster.pushRequestErrors(.produce, Array(repeating: .notLeaderForPartition, count: 5))
            injected += 5
            let producer = try await rig.startProducer()
            try await Task.sleep(for: .milliseconds(300))
            try cluster.setPartitionLeader(topic: rig.topic, partition: 0, broker: 2)
            injected += 1
            guard try await producer.wait(timeout: .seconds(300)).succeeded else { throw ChaosError("changes-producer failed under Kafka faults") }

            cluster.pushRequestErrors(.fetch, Array(repeating: .notLeaderForPartition, count: 5))
            cluster.pushRequestErrors(.offsetCommit, Array(repeating: .notCoordinator, count: 3))
            injected += 8
            let baseline = simulator.requestTotal
            let consumer = try await rig.startConsumer(exitWhenIdle: 3)
            _ = await rig.waitForRequests(beyond: baseline, more: 10)
            try cluster.setBrokerDown(1)
            try await Task.sleep(for: .seconds(3))
            try cluster.setBrokerUp(1)
            try cluster.setPartitionLeader(topic: rig.topic, partition: 1, broker: 3)
            injected += 2
            guard try await consumer.wait(timeout: .seconds(600)).succeeded else { throw ChaosError("changes-consumer failed under Kafka faults") }
            tally.update { $0.faultsInjected += injected }
            let audit = try await audit(rig)
            return "\(injected) Kafka faults (request errors, broker 1 down 3 s, 2 leader changes); \(audit.distinctSeqs) changes recorded once"
        }
    }

    /// The registry: 429s, 5xx bursts, timeouts, bodies cut short, a corrupt tarball, a malformed
    /// packument, a stalled feed and a seq reset.
    private func registryFaults() async throws -> String {
        return try await withSimulator(packages: packages) { simulator in
            // Fault rules match path prefixes: take packages no other name starts with.
            let allNames = simulator.packageNames
            let ordinary = simulator.notablePackages.ordinary.filter { name in !allNames.contains { $0 != name && $0.hasPrefix(name) } }
            guard ordinary.count >= 2 else { throw ChaosError("the workload has too few ordinary packages") }
            let corrupt = ordinary[0]
            let malformed = ordinary[1]
            simulator.faults.add([
                FaultRule(kind: .rateLimited, targets: [.changes], count: 2, retryAfterSeconds: 1),
                FaultRule(kind: .rateLimited, targets: [.packument], probability: 0.03, retryAfterSeconds: 1),
                FaultRule(kind: .httpError, targets: [.packument, .tarball], probability: 0.05, status: 503),
                FaultRule(kind: .httpError, targets: [.changes], count: 3, status: 502),
                FaultRule(kind: .slowResponse, targets: [.packument], count: 2, delayMilliseconds: 4000),
                FaultRule(kind: .closeMidBody, targets: [.tarball], probability: 0.03),
                FaultRule(kind: .truncatedBody, targets: [.packument], probability: 0.03),
                FaultRule(kind: .corruptTarball, targets: [.tarball], pathPrefix: "/\(corrupt)/-/"),
                FaultRule(kind: .malformedJSON, targets: [.packument], pathPrefix: PackageName.registryPath(malformed)),
            ])
            let rig = try rig("registry-faults", simulator: simulator, settings: [
                .httpTimeout: "2s", .changesLimit: "100",
                .watchdogInterval: "300ms", .watchdogStallChecks: "3", .metricsFile: "\(workDirectory)/registry-faults/logs/producer.prom",
            ])
            // A stalled feed first (update_seq moves on, `_changes` does not): the watchdog must notice
            // and restart the follower, not exit.
            simulator.faults.stallFeed(true)
            let producer = try await rig.startProducer()
            // New versions and packages only: a random deletion could take the two fault targets away.
            for index in 0..<30 {
                try simulator.publish(index.isMultiple(of: 3) ? .newPackage() : .newVersion())
                try await Task.sleep(for: .milliseconds(100))
            }
            simulator.faults.stallFeed(false)
            guard try await producer.wait(timeout: .seconds(300)).succeeded else { throw ChaosError("changes-producer failed under registry faults") }
            let watchdog = try MetricsText(contentsOf: "\(rig.directory)/logs/producer.prom").sum("npm_mirror_producer_watchdog_restarts_total")
            guard watchdog >= 1 else { throw ChaosError("the watchdog did not act on the stalled feed") }
            // A seq reset, then more changes: the producer keeps the highest seq and loses none.
            simulator.faults.resetSequence()
            for index in 0..<20 { try simulator.publish(index.isMultiple(of: 2) ? .newPackage() : .newVersion()) }
            try await rig.produceToEnd()

            try await rig.consumeToEnd(settings: [.metricsFile: "\(rig.directory)/logs/consumer.prom"])
            let consumerMetrics = try MetricsText(contentsOf: "\(rig.directory)/logs/consumer.prom")
            let integrityFailures = consumerMetrics.sum("npm_mirror_consumer_verification_failures_total", matching: ["kind": "integrity"])
            guard integrityFailures >= 1 else { throw ChaosError("the corrupt tarball of \(corrupt) was not refused") }
            let fired = simulator.faults.firedCounts.values.reduce(0, +) + 2
            tally.update { $0.faultsInjected += fired }
            // Dead letters expected here: the malformed packument, and the corrupt tarball (refused
            // twice; its change is recorded and dead-lettered with the reason).
            let audit = try await audit(rig, allowedDeadLetters: ["malformed_packument", "integrity_mismatch"])
            guard audit.deadLettered["malformed_packument"] == 1, audit.deadLetteredIDs.contains(malformed) else {
                throw ChaosError("the malformed packument of \(malformed) was not dead-lettered once: \(audit.deadLettered)")
            }
            guard audit.deadLetteredIDs.contains(corrupt) else { throw ChaosError("the change with the corrupt tarball (\(corrupt)) was not dead-lettered") }
            return "\(fired) registry faults; watchdog restarts \(Int(watchdog)); corrupt tarball refused; malformed packument dead-lettered; \(audit.distinctSeqs) changes accounted for"
        }
    }

    /// The settings a new user runs with: the rig's shorter test values put back to their defaults.
    static let defaultSettings: [Setting: String] = Dictionary(
        uniqueKeysWithValues: [Setting.kafkaSessionTimeout, .processingRetryMax, .replicaLagWait, .httpTimeout, .consumerConcurrency].map { ($0, $0.defaultValue!) }
    )

    /// Packages published, announced, then deleted before the consumer reaches them: the change that
    /// announced each one finds a 404.
    private func createThenDelete(_ simulator: RegistrySimulator, rig: Rig, count: Int) async throws -> [String] {
        let names = (0..<count).map { "liveness-gone-\($0)" }
        for name in names { _ = try simulator.publish(.newPackage(named: name)) }
        try await rig.produceToEnd()
        for name in names { _ = try simulator.publish(.deletion(of: name)) }
        return names
    }

    /// Transient registry faults on every request kind at the rates a new user met (429 10 % with
    /// Retry-After 1 s, 500 5 %, bodies cut short 5 %, connections reset 2 %, never more than two in
    /// a row for one URL), packages created then deleted before the consumer reaches them, and a
    /// lagging replica; every setting at its default. The consumer must finish close to the time it
    /// takes without faults, with nothing lost.
    private func registryLiveness() async throws -> String {
        let settings = Self.defaultSettings
        /// Mirrors a registry (with faults or without) and returns how long consuming took; `check`
        /// judges the run while its simulator still runs.
        func workload(_ name: String, faults: Bool, check: (Rig, RegistrySimulator, Double) async throws -> String = { _, _, _ in "" }) async throws -> (Double, String) {
            try await withSimulator(packages: packages) { simulator in
                let rig = try self.rig(name, simulator: simulator, settings: settings)
                try await rig.produceToEnd()
                _ = try await createThenDelete(simulator, rig: rig, count: 5)
                // New versions the replica shows only 2 s after the feed announced them.
                simulator.replicaLag = .seconds(2)
                for _ in 0..<10 { _ = try simulator.publish(.newVersion()) }
                if faults {
                    simulator.faults.limitFaultsInARow(2)
                    simulator.faults.add([
                        FaultRule(kind: .rateLimited, probability: 0.10, retryAfterSeconds: 1),
                        FaultRule(kind: .httpError, probability: 0.05 / 0.90, status: 500),
                        FaultRule(kind: .truncatedBody, targets: [.changes, .packument, .root], probability: 0.05 / 0.85),
                        FaultRule(kind: .closeMidBody, targets: [.tarball], probability: 0.05 / 0.85),
                        FaultRule(kind: .closeMidBody, probability: 0.02 / 0.80),
                    ])
                }
                try await rig.produceToEnd()
                let start = ContinuousClock.now
                try await rig.consumeToEnd(settings: settings, timeout: .seconds(900))
                let seconds = (ContinuousClock.now - start).seconds
                return (seconds, try await check(rig, simulator, seconds))
            }
        }
        let (baseline, _) = try await workload("registry-liveness-baseline", faults: false)
        return try await workload("registry-liveness", faults: true) { rig, faulty, faulted in
            let fired = faulty.faults.firedCounts.values.reduce(0, +)
            guard fired >= 20 else { throw ChaosError("only \(fired) faults fired: the scenario proved nothing") }
            tally.update { $0.faultsInjected += fired }
            let audit = try await audit(rig)
            let bound = baseline * 3 + 60
            guard faulted <= bound else {
                throw ChaosError(String(format: "the consumer took %.0f s under faults, %.0f s without (bound %.0f s)", faulted, baseline, bound))
            }
            return String(
                format: "%d registry faults at default settings: consumed in %.1f s (%.1f s without faults; bound 3 × + 60 s); 5 created-then-deleted packages; %d changes recorded once",
                fired, faulted, baseline, audit.distinctSeqs
            )
        }.1
    }

    /// Twelve consumers SIGKILLed soon after they start (the default 45 s session timeout, so the
    /// group waits out each dead member), then one `--exit-when-idle`: it either finishes the mirror
    /// exactly or exits non-zero. Exit 0 with anything missing fails the scenario.
    private func idleAfterKills() async throws -> String {
        return try await withSimulator(packages: packages) { simulator in
            let settings = Self.defaultSettings
            let rig = try self.rig("idle-after-kills", simulator: simulator, settings: settings)
            try await rig.produceToEnd()
            var random = SplitMixRandom(seed: seed &+ 7)
            var killed = 0
            for _ in 0..<12 {
                // A few seconds after each start: with dead members in the group, a newcomer may not be
                // given partitions before it dies, which is the point.
                let consumer = try await rig.startConsumer(settings: settings)
                try await Task.sleep(for: .milliseconds(Int.random(in: 2000...5000, using: &random)))
                consumer.send(SIGKILL)
                if try await consumer.wait().signal == SIGKILL { killed += 1 }
            }
            tally.update { $0.kills += killed }
            let start = ContinuousClock.now
            let result = try await rig.startConsumer(exitWhenIdle: 10, settings: settings).wait(timeout: .seconds(900))
            let took = (ContinuousClock.now - start).seconds
            if result.succeeded {
                // Exit 0 promises a complete mirror: the audit must be clean.
                let audit = try await audit(rig)
                return String(format: "%d kills (45 s sessions), then --exit-when-idle 10 exited 0 after %.0f s with the mirror exact: %d changes recorded once", killed, took, audit.distinctSeqs)
            }
            let log = (try? String(contentsOfFile: "\(rig.directory)/logs/consumer.log", encoding: .utf8)) ?? ""
            guard log.contains("Giving up waiting for the group") else {
                throw ChaosError("the consumer ended with \(result.ending) without saying why (see \(rig.directory)/logs/consumer.log)")
            }
            try await rig.consumeToEnd(settings: settings)
            let audit = try await audit(rig)
            return String(format: "%d kills, then --exit-when-idle exited non-zero after %.0f s, saying the group had not drained; a rerun finished: %d changes recorded once", killed, took, audit.distinctSeqs)
        }
    }

    /// CouchDB: down, slow, a 409 storm, `_bulk_docs` with per-document errors. Offsets must never
    /// pass an unrecorded change.
    private func couchDBFaults() async throws -> String {
        return try await withSimulator(packages: packages / 2) { simulator in
            let rig = try rig("couchdb-faults", simulator: simulator, settings: [.fetchTarballs: "false"])
            try await rig.produceToEnd()
            let names = simulator.packageNames
            var injected = 0
            for name in names.prefix(5) {
                couch.conflictStorm(database: rig.database, id: name, writes: 3)
                couch.failDocument(database: rig.database, id: name, error: "forbidden", reason: "rejected (chaos)", times: 2)
                injected += 5
            }
            couch.setDelay(.milliseconds(200))
            let baseline = simulator.requestTotal
            let consumer = try await rig.startConsumer(exitWhenIdle: 3)
            _ = await rig.waitForRequests(beyond: baseline, more: 20)
            // Down only once something is committed, so the check below has offsets to hold to account.
            let deadline = ContinuousClock.now + .seconds(60)
            while ContinuousClock.now < deadline,
                try await TopicReader.committed(rig.topic, group: rig.group, bootstrapServers: kafka.bootstrapServers, logger: logger).isEmpty
            {
                try await Task.sleep(for: .milliseconds(100))
            }
            await couch.goDown()
            injected += 1
            // While the database is down, every committed offset must be covered by records. The topic is
            // complete (the producer has finished), so it is read once; records are read from the double's
            // own state, which an outage does not hide.
            let messages = try await TopicReader.readAll(rig.topic, bootstrapServers: kafka.bootstrapServers, logger: logger)
                .compactMap { message in (try? ChangeMessage.decode(message.value)).map { (message.partition, message.offset, $0.seq) } }
            var checks = 0
            var committedSeen = 0
            for _ in 0..<4 {
                try await Task.sleep(for: .milliseconds(700))
                let committed = try await TopicReader.committed(rig.topic, group: rig.group, bootstrapServers: kafka.bootstrapServers, logger: logger)
                let covered = messages.filter { partition, offset, _ in committed[partition].map { offset < $0 } ?? false }
                committedSeen = max(committedSeen, covered.count)
                checks += covered.filter { _, _, seq in couch.revision(database: rig.database, id: RecordID.change(Int64(seq))) == nil }.count
            }
            try await couch.comeBack()
            couch.setDelay(nil)
            couch.failNextRequests(3, status: 500, error: "internal_server_error")
            injected += 3
            guard try await consumer.wait(timeout: .seconds(600)).succeeded else { throw ChaosError("changes-consumer failed under CouchDB faults") }
            guard checks == 0 else { throw ChaosError("\(checks) offsets were committed for changes with no record") }
            guard committedSeen > 0 else { throw ChaosError("nothing was committed before the outage, so the outage check proved nothing") }
            tally.update { $0.faultsInjected += injected }
            // A per-document `forbidden` (a validate_doc_update rejection) is final: those changes are
            // dead-lettered with the reason, their change records written.
            let audit = try await audit(rig, allowedDeadLetters: ["record_forbidden"])
            let rejected = Set(names.prefix(5))
            guard audit.deadLetteredIDs == rejected else {
                throw ChaosError("expected the 5 rejected packages dead-lettered (record_forbidden), got \(audit.deadLettered)")
            }
            return "\(injected) CouchDB faults (down 2.8 s, slow, 409 storms, per-document rejections, 500s); no offset passed an unrecorded change (\(committedSeen) committed changes checked during the outage); 5 rejections dead-lettered; \(audit.distinctSeqs) changes recorded once"
        }
    }

    /// The store's filesystem full: a small tmpfs, enlarged after a while.
    private func diskFull() async throws -> String {
        return try await withSimulator(packages: packages / 3) { simulator in
            let mountPoint = "\(workDirectory)/disk-full/packages"
            try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
            guard await Mount.tmpfs(at: mountPoint, size: "2m") else {
                return "skipped: no tmpfs can be mounted here (needs root); MirrorStoreTests inject the write error instead"
            }
            do {
                let result = try await fillTheDisk(simulator, mountPoint: mountPoint)
                await Mount.unmount(mountPoint)
                return result
            } catch {
                await Mount.unmount(mountPoint)
                throw error
            }
        }
    }

    private func fillTheDisk(_ simulator: RegistrySimulator, mountPoint: String) async throws -> String {
        let rig = try rig("disk-full", simulator: simulator, settings: [.localPackageDir: "\(mountPoint)/.scratch"])
        try await rig.produceToEnd()
        let consumer = try await rig.startConsumer(exitWhenIdle: 3)
        // Until the consumer has met the full disk (a fixed wait was too short on a loaded
        // machine, where the consumer had not written 2 MB yet), then a moment of being full.
        func saidDiskFull() -> Bool {
            let log = (try? String(contentsOfFile: "\(rig.directory)/logs/consumer.log", encoding: .utf8)) ?? ""
            return log.contains("No space left") || log.contains("disk_full") || log.contains("ENOSPC")
        }
        let deadline = ContinuousClock.now + .seconds(180)
        while !saidDiskFull(), ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(200)) }
        guard saidDiskFull() else {
            consumer.send(SIGKILL)
            _ = try? await consumer.wait(timeout: .seconds(30))
            throw ChaosError("the consumer never said the disk was full within 180 s (see \(rig.directory)/logs/consumer.log)")
        }
        try await Task.sleep(for: .seconds(2))
        let stuck = try await TopicReader.uncommitted(rig.topic, group: rig.group, bootstrapServers: kafka.bootstrapServers, logger: logger)
        guard await Mount.resize(mountPoint, size: "512m") else { throw ChaosError("could not enlarge the tmpfs") }
        guard try await consumer.wait(timeout: .seconds(600)).succeeded else { throw ChaosError("changes-consumer failed after the disk filled") }
        tally.update { $0.faultsInjected += 1 }
        let audit = try await Audit.of(rig)
        // The scratch folder lives inside the store's filesystem here, so the audit's store check covers it.
        tally.add(audit)
        guard audit.clean else { throw ChaosError("after the disk filled: \(audit.problems), lost \(audit.changesLost), partial \(audit.partialFiles)") }
        return "store on a 2 MB tmpfs: \(stuck.count) partitions held back while full, resumed after growing it; \(audit.distinctSeqs) changes recorded once, no partial file"
    }
}

/// Mounting a tmpfs (root only).
enum Mount {
    static func tmpfs(at path: String, size: String) async -> Bool {
        await run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(size)", "tmpfs", path])
    }

    static func resize(_ path: String, size: String) async -> Bool {
        await run("/bin/mount", ["-o", "remount,size=\(size)", path])
    }

    static func unmount(_ path: String) async {
        _ = await run("/bin/umount", [path])
    }

    private static func run(_ tool: String, _ arguments: [String]) async -> Bool {
        (try? await ChildProcess.output(tool, arguments))?.status == 0
    }
}
