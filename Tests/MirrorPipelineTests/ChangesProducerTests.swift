import AsyncHTTPClient
import Foundation
import MirrorTestSupport
import NIOCore
import NIOHTTP1
import Logging
import MirrorConfig
import MirrorKafka
import MirrorPipeline
import NPMRegistry
import RegistrySimulator
import MirrorRuntime
import Testing
import MirrorStore

@Suite("changes-producer against the simulator and the embedded broker", .serialized, .timeLimit(.minutes(5)))
struct ChangesProducerTests {
    @Test("N changes become exactly N messages, keyed by name; the highest seq is the feed's last seq")
    func followsTheFeed() async throws {
        try await withSimulator { simulator in
            let harness = try ProducerHarness(simulator: simulator)
            try await runProducerToEnd(try harness.producer())

            let feed = try await harness.feed()
            let produced = try await harness.messages()
            #expect(produced.count == feed.count)
            #expect(produced.map(\.change.seq).sorted() == feed.map(\.seq).sorted())
            for (message, change) in produced {
                #expect(message.keyString == change.id)
            }
            // Same key, same partition.
            let partitionsByID = Dictionary(grouping: produced, by: \.change.id).mapValues { Set($0.map(\.message.partition)) }
            #expect(partitionsByID.values.allSatisfy { $0.count == 1 })
            let admin = try KafkaAdmin(configuration: KafkaClientConfiguration(bootstrapServers: harness.cluster.bootstrapServers), logger: testLogger)
            let lastMessages = try await admin.lastMessages(topic: harness.topic)
            #expect(ResumePoint.highestSeq(in: lastMessages, logger: testLogger) == feed.map(\.seq).max())
            // The checkpoint names the same seq, and the last message is a change.
            let checkpoint = try CheckpointDirectory(path: harness.updateSeqDirectory).readProducer()
            #expect(checkpoint?.updateSeq == Int64(simulator.updateSeq))
            let lastMessage = try Data(contentsOf: CheckpointDirectory(path: harness.updateSeqDirectory).file("last_message.json"))
            #expect(try ChangeMessage.decode(Array(lastMessage)).seq == feed.map(\.seq).max())
            #expect(harness.metric("npm_mirror_producer_changes_produced_total") == Double(feed.count))
            #expect(harness.metric("npm_mirror_http_requests_total", labels: #"target="changes",status_class="2xx""#) ?? 0 > 0)
        }
    }

    @Test("a restart resumes from the highest acknowledged seq: nothing missing, nothing repeated after a clean stop")
    func resumesAfterRestart() async throws {
        try await withSimulator { simulator in
            let harness = try ProducerHarness(simulator: simulator)
            try await runProducerToEnd(try harness.producer())
            let firstCount = try await harness.messages().count
            let firstHead = Int64(simulator.updateSeq)
            _ = try simulator.advance(by: 30)
            try await runProducerToEnd(try harness.producer())
            let produced = try await harness.messages()
            // The feed lists each package once, at its latest seq: the new part is what lies past the first head.
            let feed = try await harness.feed()
            let fresh = feed.filter { $0.seq > firstHead }
            #expect(!fresh.isEmpty)
            #expect(produced.count == firstCount + fresh.count)
            #expect(Set(produced.map(\.change.seq)).isSuperset(of: feed.map(\.seq)))
            #expect(Set(produced.map(\.change.seq)).count == produced.count, "a change was produced twice")
        }
    }

    @Test("cancelled mid-run and restarted: no change missing, at most the unacknowledged page repeated")
    func cancelledMidRun() async throws {
        try await withSimulator(packages: 120) { simulator in
            let harness = try ProducerHarness(simulator: simulator)
            simulator.faults.add(FaultRule(kind: .slowResponse, targets: [.changes], delayMilliseconds: 300))
            let service = try harness.producer(["CHANGES_LIMIT": "10"])
            let run = Task { try await service.run() }
            // Cancel once the first pages are acknowledged (the checkpoint moved past the start).
            let deadline = ContinuousClock.now + .seconds(30)
            while ContinuousClock.now < deadline, (try? CheckpointDirectory(path: harness.updateSeqDirectory).readProducer())??.updateSeq ?? 0 <= 0 {
                try await Task.sleep(for: .milliseconds(50))
            }
            run.cancel()
            _ = await run.result
            await service.producer.shutdown()
            let partial = try await harness.messages().count
            simulator.faults.removeAll()
            try await runProducerToEnd(try harness.producer(["CHANGES_LIMIT": "10"]))
            let produced = try await harness.messages()
            let feed = try await harness.feed()
            #expect(partial > 0 && partial < feed.count, "the cancel should land mid-run (got \(partial) of \(feed.count))")
            #expect(Set(produced.map(\.change.seq)) == Set(feed.map(\.seq)), "a change is missing")
            #expect(produced.count - feed.count <= 10, "more than one page was repeated")
        }
    }

    @Test("empty topic + update_seq \"now\" starts at the registry head")
    func startsAtHeadWhenNow() async throws {
        try await withSimulator { simulator in
            let harness = try ProducerHarness(simulator: simulator)
            let head = Int64(simulator.updateSeq)
            try await runProducerToEnd(try harness.producer(["UPDATE_SEQ": "now"]))
            #expect(try await harness.messages().isEmpty)
            #expect(try CheckpointDirectory(path: harness.updateSeqDirectory).readProducer()?.updateSeq == head)
            _ = try simulator.advance(by: 5)
            try await runProducerToEnd(try harness.producer(["UPDATE_SEQ": "now"]))
            let produced = try await harness.messages()
            #expect(produced.count == 5)
            #expect(produced.allSatisfy { $0.change.seq > head })
        }
    }

    @Test("empty topic + a number starts after that seq")
    func startsAtConfiguredSeq() async throws {
        try await withSimulator { simulator in
            let harness = try ProducerHarness(simulator: simulator)
            let feed = try await harness.feed()
            let middle = feed[feed.count / 2].seq
            try await runProducerToEnd(try harness.producer(["UPDATE_SEQ": String(middle)]))
            let produced = try await harness.messages()
            #expect(Set(produced.map(\.change.seq)) == Set(feed.filter { $0.seq > middle }.map(\.seq)))
        }
    }

    @Test("the checkpoint wins over the configured start when the topic is empty")
    func resumesFromCheckpoint() async throws {
        try await withSimulator { simulator in
            let harness = try ProducerHarness(simulator: simulator)
            let feed = try await harness.feed()
            let checkpointSeq = feed[feed.count - 4].seq
            try await CheckpointDirectory(path: harness.updateSeqDirectory).writeProducer(.init(updateSeq: checkpointSeq, feedReset: nil), lastMessage: nil)
            try await runProducerToEnd(try harness.producer(["UPDATE_SEQ": "0"]))
            #expect(try await harness.messages().map(\.change.seq).sorted() == feed.suffix(3).map(\.seq))
        }
    }

    @Test("429 with Retry-After, 5xx and malformed pages are retried; nothing is lost")
    func retriesBadAnswers() async throws {
        try await withSimulator { simulator in
            let harness = try ProducerHarness(simulator: simulator)
            simulator.faults.add([
                FaultRule(kind: .rateLimited, targets: [.changes], count: 2, retryAfterSeconds: 1),
                FaultRule(kind: .httpError, targets: [.changes], count: 2, status: 503),
                FaultRule(kind: .malformedJSON, targets: [.changes], count: 2),
                FaultRule(kind: .closeMidBody, targets: [.changes], count: 1),
            ])
            let started = ContinuousClock.now
            try await runProducerToEnd(try harness.producer())
            let elapsed = ContinuousClock.now - started
            let feed = try await harness.feed()
            let produced = try await harness.messages()
            #expect(Set(produced.map(\.change.seq)) == Set(feed.map(\.seq)))
            #expect(produced.count == feed.count)
            #expect(harness.metric("npm_mirror_producer_errors_total", labels: #"reason="rate_limited""#) == 2)
            #expect(harness.metric("npm_mirror_producer_errors_total", labels: #"reason="server_error""#) == 2)
            #expect(harness.metric("npm_mirror_producer_errors_total", labels: #"reason="malformed_json""#) == 2)
            #expect(harness.metric("npm_mirror_http_requests_total", labels: #"target="changes",status_class="4xx""#) == 2)
            // Retry-After: 1 s was honoured twice.
            #expect(elapsed >= .seconds(2))
        }
    }

    @Test("the broker down mid-run: the page it did not acknowledge is sent again, nothing is lost")
    func brokerDown() async throws {
        try await withSimulator { simulator in
            let harness = try ProducerHarness(simulator: simulator)
            // 100 ms a page of 10: the 60 changes take 600 ms at least, so the broker goes down mid-run.
            simulator.faults.add(FaultRule(kind: .slowResponse, targets: [.changes], delayMilliseconds: 100))
            // Deliveries fail after 2 s rather than 5 minutes: the outage ends a send, and the follower sends the page again.
            let service = try harness.producer(["CHANGES_LIMIT": "10"], messageTimeout: .seconds(2))
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await runProducerToEnd(service) }
                let started = await eventually(within: .seconds(30)) { harness.metric("npm_mirror_producer_changes_produced_total") ?? 0 > 0 }
                try #require(started, "no page was acknowledged within 30 s")
                try harness.cluster.setBrokerDown(1)
                let retried = await eventually(within: .seconds(60)) { harness.metric("npm_mirror_producer_page_retries_total") ?? 0 >= 1 }
                try harness.cluster.setBrokerUp(1)
                #expect(retried, "no page was refused and sent again while the broker was down")
                try await group.waitForAll()
            }
            #expect(harness.metric("npm_mirror_producer_errors_total", labels: #"reason="deliveryFailed""#) ?? 0 >= 1, "no delivery failed")
            let feed = try await harness.feed()
            let produced = try await harness.messages()
            #expect(Set(produced.map(\.change.seq)) == Set(feed.map(\.seq)))
        }
    }

    @Test("a seq reset is detected and counted; restart-from-head follows the new feed")
    func seqReset() async throws {
        try await withSimulator { simulator in
            let harness = try ProducerHarness(simulator: simulator)
            try await runProducerToEnd(try harness.producer())
            let before = try await harness.messages().count
            let highest = try CheckpointDirectory(path: harness.updateSeqDirectory).readProducer()!.updateSeq
            _ = simulator.faults.resetSequence()
            #expect(Int64(simulator.updateSeq) < highest)
            let resets = { harness.metric("npm_mirror_producer_seq_resets_total") ?? 0 }
            let changesRequests = { simulator.recentRequests().filter { $0.kind == "changes" }.count }

            // keep-highest (the default): detect, count, produce nothing from below our seq.
            let service = try harness.producer(exitWhenCaughtUp: false)
            let run = Task { try await service.run() }
            let detected = await eventually(within: .seconds(30)) { resets() >= 1 }
            // After the reset was seen, the follower keeps polling the feed below it.
            let polledAfter = changesRequests()
            let keptPolling = await eventually(within: .seconds(30)) { changesRequests() >= polledAfter + 3 }
            run.cancel()
            _ = await run.result
            await service.producer.shutdown()
            #expect(detected, "the reset was not counted")
            #expect(keptPolling, "the follower stopped polling after the reset")
            #expect(try await harness.messages().count == before)

            // restart-from-head: new changes after the reset are produced.
            let newHead = Int64(simulator.updateSeq)
            let follower = try harness.producer(["SEQ_RESET_POLICY": "restart-from-head"], exitWhenCaughtUp: false)
            let following = Task { try await follower.run() }
            let checkpoint = { (try? CheckpointDirectory(path: harness.updateSeqDirectory).readProducer()) ?? nil }
            // It moved down to the new head (and said so in the checkpoint) before the new changes come.
            let followedDown = await eventually(within: .seconds(30)) { checkpoint()?.feedReset == true }
            _ = try simulator.advance(by: 4)
            let newHeadAfter = Int64(simulator.updateSeq)
            let caughtUp = await eventually(within: .seconds(30)) { checkpoint().map { $0.updateSeq >= newHeadAfter } ?? false }
            following.cancel()
            _ = await following.result
            await follower.producer.shutdown()
            #expect(followedDown, "restart-from-head did not follow the feed down to its new head")
            #expect(caughtUp, "the changes after the reset were not acknowledged")
            let produced = try await harness.messages()
            #expect(produced.filter { $0.change.seq > newHead && $0.change.seq < highest }.count >= 4)
            #expect(checkpoint()?.feedReset == true)
            #expect(checkpoint().map { $0.updateSeq < highest } == true)
        }
    }

    @Test("a stalled feed makes the watchdog restart the follower, and too many restarts end the run")
    func watchdogRestartsAndGivesUp() async throws {
        try await withSimulator { simulator in
            let harness = try ProducerHarness(simulator: simulator)
            try await runProducerToEnd(try harness.producer())
            simulator.faults.stallFeed(true)
            let service = try harness.producer(
                ["WATCHDOG_INTERVAL": "150ms", "WATCHDOG_STALL_CHECKS": "2", "WATCHDOG_MAX_RESTARTS": "2", "WATCHDOG_RESTART_WINDOW": "1m"],
                exitWhenCaughtUp: false
            )
            let publisher = Task {
                while !Task.isCancelled {
                    _ = try? simulator.publish()
                    try? await Task.sleep(for: .milliseconds(50))
                }
            }
            defer { publisher.cancel() }
            await #expect(throws: ProducerGaveUp.self) { try await runProducerToEnd(service, limit: .seconds(30)) }
            #expect(harness.metric("npm_mirror_producer_watchdog_restarts_total") == 2)
        }
    }
}

@Suite("Metrics endpoint")
struct MetricsEndpointTests {
    @Test("port 0 picks a free port; /metrics serves the producer's series in Prometheus text")
    func scrape() async throws {
        try await withSimulator(packages: 20) { simulator in
            let harness = try ProducerHarness(simulator: simulator)
            try await runProducerToEnd(try harness.producer())
            let endpoint = MetricsEndpoint(registry: harness.registry, host: "127.0.0.1", port: 0, logger: testLogger)
            let server = Task { try await endpoint.run() }
            defer { server.cancel() }
            let port = try #require(await endpoint.waitUntilListening())
            #expect(port > 0)
            let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/metrics"), timeout: .seconds(5))
            #expect(response.status.code == 200)
            let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
            for name in [
                "npm_mirror_producer_changes_produced_total", "npm_mirror_producer_last_acknowledged_seq", "npm_mirror_registry_update_seq",
                "npm_mirror_http_requests_total", "npm_mirror_producer_poll_duration_seconds",
            ] {
                #expect(text.contains(name), "missing \(name)")
            }
        }
    }
}
