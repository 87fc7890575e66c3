import Foundation
import PostgresNIO
@testable import PostgresJournal
import Testing
import WorkerStore
import WorkerTestKit

/// What `worker status`, `/metrics` and an idle worker read on PostgreSQL: depth, the oldest queued job, the
/// overview with its live workers, and the idle loop's counts.
@Suite struct OverviewTests {
    @Test func depthCountsUnfinishedAndDeadJobsPerQueue() async throws {
        let fixture = try await InspectFixture.open("depth")
        for state in JobState.allCases { try await fixture.job(state, queue: "b") }
        try await fixture.job(.queued, queue: "a")
        try await fixture.job(.queued, queue: "a")
        try await fixture.job(.completed, queue: "a")
        let depth = try await fixture.journal.depth()
        let expected = [QueueDepth(queue: "a", state: .queued, count: 2)] + [
            JobState.dead, .interrupted, .queued, .retrying, .running, .scheduled,
        ].map { QueueDepth(queue: "b", state: $0, count: 1) }
        #expect(depth == expected)
        await fixture.close()
    }

    @Test func theOldestQueuedJobIsAgedByTheServersClock() async throws {
        let fixture = try await InspectFixture.open("oldest")
        try await fixture.job(.queued, queue: "slow", runAtOffset: -300_000_000)
        try await fixture.job(.queued, queue: "slow", runAtOffset: -5_000_000)
        try await fixture.job(.queued, queue: "fast", runAtOffset: 0)
        try await fixture.job(.retrying, queue: "other", runAtOffset: -900_000_000)  // not queued: no age
        let ages = try await fixture.journal.oldestQueuedAge()
        #expect(Set(ages.keys) == ["slow", "fast"])
        #expect(ages["slow"]! >= 300 && ages["slow"]! < 3600)
        #expect(ages["fast"]! >= 0 && ages["fast"]! < 3600)
        await fixture.close()
    }

    @Test func theOverviewShowsOnlyLiveWorkers() async throws {
        let fixture = try await InspectFixture.open("overview")
        try await fixture.worker("live")
        try await fixture.worker("dead")  // registered, not stopped, but its lock is free: its process died
        try await fixture.worker("gone", stopped: true)
        let lock = try await fixture.holdLock("live")
        let stoppedLock = try await fixture.holdLock("gone")  // a stopped worker is not live even with its lock
        try await fixture.job(.queued, queue: "q", runAtOffset: -10_000_000)
        try await fixture.job(.dead, queue: "q")
        try await fixture.job(.completed)
        let overview = try await fixture.journal.overview()
        #expect(overview.workers.map(\.registration.id) == ["live"])
        #expect(overview.workers.first?.registration == WorkerRegistration(id: "live", pid: 4242, host: "test", processStartedAt: nil, version: "t"))
        #expect(overview.workers.first?.stoppedAt == nil)
        #expect(overview.counts == ["q": [.queued: 1, .dead: 1], "default": [.completed: 1]])
        let serverNow = try await fixture.journal.rows("SELECT worker_micros()")[0].decode(Int64.self)
        #expect(overview.at <= serverNow && overview.at > serverNow - 600_000_000)
        #expect(overview.oldestQueued.keys.sorted() == ["q"])
        #expect(overview.at - overview.oldestQueued["q"]! >= 10_000_000)
        // Once its lock session ends, the worker is no longer shown.
        await lock.closeNow()
        await stoppedLock.closeNow()
        var workers = try await fixture.journal.overview().workers
        for _ in 0..<600 where !workers.isEmpty {  // the server frees the lock as it ends the session (up to 30 s under load)
            try await Task.sleep(for: .milliseconds(50))
            workers = try await fixture.journal.overview().workers
        }
        #expect(workers.isEmpty)
        await fixture.close()
    }

    @Test func theIdleLoopsCounts() async throws {
        let fixture = try await InspectFixture.open("idle")
        let journal = fixture.journal
        #expect(try await journal.activeJobCount() == 0)
        #expect(try await journal.nextRunAt() == nil)
        #expect(try await journal.activeJobsByHandler(queues: []).isEmpty)
        let queued = try await fixture.job(.queued, handler: "a", queue: "q1")
        try await fixture.job(.queued, handler: "b", queue: "q2")
        try await fixture.job(.queued, handler: "b", queue: "q2")
        let running = try await fixture.job(.running, handler: "a", queue: "q1")
        let interrupted = try await fixture.job(.interrupted, handler: "c", queue: "q2")
        try await fixture.job(.retrying, handler: "c", queue: "q1", runAtOffset: 120_000_000)
        try await fixture.job(.retrying, handler: "d", queue: "q1", runAtOffset: -5_000_000)  // due: not "next"
        try await fixture.job(.scheduled, handler: "a", runAtOffset: 60_000_000)
        try await fixture.job(.scheduled, handler: "a", runAtOffset: -1_000_000)  // overdue scheduled: not "next"
        let completed = try await fixture.job(.completed, handler: "e")
        try await fixture.job(.dead, handler: "e")

        #expect(try await journal.activeJobCount() == 7)
        #expect(try await journal.activeJobsByHandler(queues: []) == [
            ActiveHandlerJobs(handler: "a", waiting: 1, running: 1), ActiveHandlerJobs(handler: "b", waiting: 2, running: 0),
            ActiveHandlerJobs(handler: "c", waiting: 2, running: 0), ActiveHandlerJobs(handler: "d", waiting: 1, running: 0),
        ])
        #expect(try await journal.activeJobsByHandler(queues: ["q1"]) == [
            ActiveHandlerJobs(handler: "a", waiting: 1, running: 1), ActiveHandlerJobs(handler: "c", waiting: 1, running: 0),
            ActiveHandlerJobs(handler: "d", waiting: 1, running: 0),
        ])
        #expect(try await journal.activeJobsByHandler(queues: ["nowhere"]).isEmpty)
        // Queued, interrupted and running count; completed and unknown ids do not.
        #expect(try await journal.unfinishedCount(of: [queued, running, interrupted, completed, 999_999]) == 3)
        #expect(try await journal.unfinishedCount(of: []) == 0)
        #expect(try await journal.waitingHandlers(notIn: ["a"]) == ["b", "c", "d"])
        #expect(try await journal.waitingHandlers(notIn: []) == ["a", "b", "c", "d"])
        let waiting = try await journal.waitingByHandler()
        #expect(waiting.map(\.handler) == ["b", "a", "c", "d"] && waiting.map(\.count) == [2, 1, 1, 1])

        // The next due time still to come: the scheduled job in a minute, before the retry in two.
        let serverNow = try await journal.rows("SELECT worker_micros()")[0].decode(Int64.self)
        let next = try #require(try await journal.nextRunAt())
        // The retry still to come (the other retrying job is due already; two rows in no set order: it once read that one).
        let retryAt = try await journal.rows("SELECT max(run_at) FROM jobs WHERE state = 'retrying'")[0].decode(Int64.self)
        // Judged by order, not by how much time went by since the jobs were made (seconds, on a loaded machine).
        #expect(next > serverNow && next <= serverNow + 60_000_000 && next < retryAt)
        await fixture.close()
    }
}
