import Foundation
import Testing
import WorkerStore
import WorkerTestKit

/// Paused queues and limits with real `worker run` processes, on SQLite and PostgreSQL. Judged by the journal (its
/// events, in commit order, and samples of its running jobs), never by timings.
@Suite struct QueueControlRunTests {
    /// A paused queue is not touched by any worker while paused; resumed, it drains. Other queues run meanwhile.
    @Test(arguments: StoreKind.allCases)
    func aPausedQueueWaitsAndDrainsOnceResumed(kind: StoreKind) async throws {
        let fixture = try await RunFixture.make(kind)
        defer { fixture.remove() }
        _ = try await fixture.journal.pause(queue: "held")
        let held = try await enqueue(fixture, count: 20, queue: "held")
        let free = try await enqueue(fixture, count: 20, queue: "default")
        let workers = [try await fixture.start(["--concurrency", "4"], log: "a.log"), try await fixture.start(["--concurrency", "4"], log: "b.log")]
        #expect(try await eventually { try await fixture.journal.unfinishedCount(of: free) == 0 }, "the other queue did not drain")
        for worker in workers { #expect(await worker.waitForLog("queue held is paused"), "\(worker.log.suffix(400))") }
        try await Task.sleep(for: .seconds(1))  // the workers stay idle with the held jobs waiting
        for id in held {
            let events = try await fixture.journal.events(job: id)
            #expect(events.map(\.to) == [.queued], "job \(id) of the paused queue was touched: \(events.map(\.reason))")
        }
        let resumed = try await fixture.journal.resume(queue: "held")
        #expect(try await eventually { try await fixture.journal.unfinishedCount(of: held) == 0 }, "the resumed queue did not drain")
        for id in held {
            let claim = try await fixture.journal.events(job: id).first { $0.to == .running }
            #expect(claim.map { $0.at >= resumed.updatedAt! } == true, "job \(id) was claimed before the resume")
        }
        for worker in workers { #expect(await worker.waitForLog("queue held is resumed"), "\(worker.log.suffix(400))") }
        try await stop(workers)
        try await fixture.expectSound()
    }

    /// `--exit-when-idle`: the jobs of a paused queue do not keep a worker running; they stay queued.
    @Test(arguments: StoreKind.allCases)
    func aPausedQueueDoesNotKeepAnIdleExitingWorkerRunning(kind: StoreKind) async throws {
        let fixture = try await RunFixture.make(kind)
        defer { fixture.remove() }
        _ = try await fixture.journal.pause(queue: "held")
        let held = try await enqueue(fixture, count: 3, queue: "held")
        let free = try await enqueue(fixture, count: 3, queue: "default")
        try await fixture.runUntilIdle()
        #expect(try await fixture.journal.unfinishedCount(of: free) == 0)
        for id in held { #expect(try await fixture.journal.job(id).state == .queued) }
    }

    /// Concurrency 2 over two workers of concurrency 10: never more than 2 running, sampled throughout and checked
    /// against the journal's events in commit order.
    @Test(arguments: StoreKind.allCases)
    func concurrencyHoldsAcrossTwoWorkers(kind: StoreKind) async throws {
        let fixture = try await RunFixture.make(kind)
        defer { fixture.remove() }
        _ = try await fixture.journal.set(queue: "api", QueueChange(concurrency: 2))
        let ids = try await enqueue(fixture, count: 30, queue: "api", handler: "sleep", payload: #"{"ms": 50}"#)
        if kind == .postgres {  // to count the rounds (each calls worker_queue_budgets), for the notes
            _ = try await PostgresTestServer.shared.psql(fixture.db, #"DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET track_functions = "pl"', current_database()); END $$"#)
        }
        let workers = [try await fixture.start(["--concurrency", "10"], log: "a.log"), try await fixture.start(["--concurrency", "10"], log: "b.log")]
        var samples: [Int] = []
        while try await fixture.journal.unfinishedCount(of: ids) > 0 {
            samples.append(try await fixture.journal.jobs(JobFilter(state: .running, queue: "api")).count)
            try await Task.sleep(for: .milliseconds(10))
        }
        #expect(samples.max() ?? 0 <= 2, "running counts sampled: \(samples)")
        #expect(try await Self.mostRunningAtOnce(fixture.journal, ids, by: { _ in "" }) == 2)
        try await stop(workers)
        if kind == .postgres {
            let rounds = try await PostgresTestServer.shared.psql(
                fixture.db, "SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions WHERE funcname = 'worker_queue_budgets'")
            print("concurrency 2, two workers of 10, 30 jobs of 50 ms: \(rounds) claiming rounds")
        }
        try await fixture.expectSound()
    }

    /// A rate of 20 per second over 10 s: no 21 starts within any second, by the claims' journal times.
    @Test(arguments: StoreKind.allCases)
    func aRateLimitHoldsOverTenSeconds(kind: StoreKind) async throws {
        let fixture = try await RunFixture.make(kind)
        defer { fixture.remove() }
        _ = try await fixture.journal.set(queue: "sms", QueueChange(rate: QueueRate(limit: 20, window: .seconds(1))))
        let ids = try await enqueue(fixture, count: 200, queue: "sms")
        let workers = [try await fixture.start(["--concurrency", "10"], log: "a.log"), try await fixture.start(["--concurrency", "10"], log: "b.log")]
        #expect(try await eventually(timeout: .seconds(120)) { try await fixture.journal.unfinishedCount(of: ids) == 0 })
        var starts: [Micros] = []
        for id in ids { starts += try await fixture.journal.events(job: id).filter { $0.to == .running }.map(\.at) }
        starts.sort()
        #expect(starts.count == 200)
        let crowded = starts.indices.dropLast(20).filter { starts[$0 + 20] - starts[$0] < 1_000_000 }
        #expect(crowded.isEmpty, "21 starts within a second from start \(crowded.first ?? -1)")
        try await stop(workers)
        try await fixture.expectSound()
    }

    /// Per-key concurrency 1: never two running jobs of one key, by the journal's events in commit order.
    @Test(arguments: StoreKind.allCases)
    func perKeyLimitsHold(kind: StoreKind) async throws {
        let fixture = try await RunFixture.make(kind)
        defer { fixture.remove() }
        _ = try await fixture.journal.set(queue: "sync", QueueChange(perKeyConcurrency: 1))
        var jobs: [NewJob] = []
        for index in 0..<24 {
            jobs.append(NewJob(handler: "sleep", payload: #"{"ms": 30}"#, queue: "sync", concurrencyKey: "customer-\(index % 3)"))
        }
        let ids = try await fixture.journal.enqueue(batch: jobs).map(\.id)
        let workers = [try await fixture.start(["--concurrency", "10"], log: "a.log"), try await fixture.start(["--concurrency", "10"], log: "b.log")]
        #expect(try await eventually { try await fixture.journal.unfinishedCount(of: ids) == 0 })
        var keys: [Int64: String] = [:]
        for id in ids { keys[id] = try await fixture.journal.job(id).concurrencyKey }
        #expect(try await Self.mostRunningAtOnce(fixture.journal, ids, by: { keys[$0] ?? "" }) == 1)
        try await stop(workers)
        try await fixture.expectSound()
    }

    private func enqueue(
        _ fixture: RunFixture, count: Int, queue: String, handler: String = "noop", payload: String = "{}"
    ) async throws -> [Int64] {
        try await fixture.journal.enqueue(batch: Array(repeating: NewJob(handler: handler, payload: payload, queue: queue), count: count)).map(\.id)
    }

    private func stop(_ workers: [RunningWorker]) async throws {
        for worker in workers { worker.signal(SIGTERM) }
        for worker in workers {
            let exit = await worker.waitForExit(timeout: .seconds(60))
            let diagnosis = exit == nil ? await worker.diagnosis() : ""
            #expect(exit?.status == 0, "\(diagnosis)\n\(worker.log.suffix(400))")
        }
    }

    /// The most jobs of `ids` running at once within one group (`group` of a job id), replaying their events in
    /// the journal's order (event ids: a claim's event always follows the events of the finishes it counted).
    static func mostRunningAtOnce(_ journal: any JobStore, _ ids: [Int64], by group: (Int64) -> String) async throws -> Int {
        var events: [JobEvent] = []
        for id in ids { events += try await journal.events(job: id) }
        var running: [String: Int] = [:]
        var most = 0
        for event in events.sorted(by: { $0.id < $1.id }) {
            if event.to == .running { running[group(event.jobID), default: 0] += 1 }
            if event.from == .running { running[group(event.jobID), default: 0] -= 1 }
            most = max(most, running.values.max() ?? 0)
        }
        return most
    }
}
