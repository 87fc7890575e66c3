import Foundation
@testable import PostgresJournal
import PostgresNIO
import Testing
import WorkerStore
import WorkerTestKit

/// Claims on PostgreSQL: the SQLite journal's order, filters, suspects and reserve, in one statement; and no job
/// is ever claimed twice by workers in separate processes.
@Suite struct PGClaimTests {
    @Test func claimOrderIsInterruptedThenPriorityThenRunAtThenId() async throws {
        let fixture = try await RunFixture("order")
        let j = try await fixture.worker("w1")
        let low = try await fixture.enqueue(j, priority: 0)
        let highLate = try await fixture.enqueue(j, priority: 5)
        let highEarly = try await fixture.enqueue(j, priority: 5, runAtOffset: -600)
        let lowEarlier = try await fixture.enqueue(j, priority: 0, runAtOffset: -60)  // well before `low`, however slow the box
        let lowest = try await fixture.enqueue(j, priority: -10)
        #expect(try await fixture.claim(j, "w1") == [highEarly])
        try await fixture.finish(j, highEarly, "w1", .interrupted(reason: "test"))
        #expect(try await fixture.claim(j, "w1") == [highEarly])  // interrupted: it resumes first
        #expect(try await fixture.events(j, highEarly).last?.reason == "resumed")
        try await fixture.finish(j, highEarly, "w1", .completed)
        #expect(try await fixture.claim(j, "w1", 10) == [highLate, lowEarlier, low, lowest])
        await closeAll(j)
    }

    @Test func interruptedJobsResumeBeforeHigherPriorityNewOnes() async throws {
        let fixture = try await RunFixture("resume")
        let j = try await fixture.worker("w1")
        let old = try await fixture.enqueue(j)
        #expect(try await fixture.claim(j, "w1") == [old])
        try await fixture.finish(j, old, "w1", .interrupted(reason: "signal"))
        let urgent = try await fixture.enqueue(j, priority: 100)
        #expect(try await fixture.claim(j, "w1", 2) == [old, urgent])
        await closeAll(j)
    }

    @Test func queueHandlerAndIdFiltersAreHonoured() async throws {
        let fixture = try await RunFixture("filters")
        let j = try await fixture.worker("w1")
        let mail = try await fixture.enqueue(j, "send", queue: "mail")
        let report = try await fixture.enqueue(j, "build", queue: "reports")
        let other = try await fixture.enqueue(j, "missing-handler", queue: "mail")
        #expect(try await fixture.claim(j, "w1", 10, queues: ["reports"]) == [report])
        #expect(try await fixture.claim(j, "w1", 10, handlers: ["send", "build"]) == [mail])
        #expect(try await fixture.claim(j, "w1", 10, handlers: []) == [])
        #expect(try await fixture.job(j, other).state == .queued)
        // `worker resume` names its jobs: many of them bind as one array.
        let skipped = try await fixture.enqueue(j)
        let wanted = try await fixture.enqueue(j)
        let ids = [wanted] + (1...300_000).map { wanted + Int64($0) * 10 }
        let claimed = try await j.finishAndClaim(finished: [], claim: ClaimRequest(worker: "w1", limit: 10, ids: ids)).claimed
        #expect(claimed.map(\.id) == [wanted])
        #expect(try await j.finishAndClaim(finished: [], claim: ClaimRequest(worker: "w1", limit: 10, ids: [])).claimed.isEmpty)
        #expect(try await fixture.job(j, skipped).state == .queued)
        await closeAll(j)
    }

    @Test func dueScheduledJobsAreQueuedAndClaimed() async throws {
        let fixture = try await RunFixture("due")
        let j = try await fixture.worker("w1")
        let first = try await fixture.enqueue(j, runAtOffset: 3600)
        let second = try await fixture.enqueue(j, runAtOffset: 3600)
        let later = try await fixture.enqueue(j, runAtOffset: 3600)
        _ = try await fixture.sql("UPDATE jobs SET run_at = run_at - 7200000000 WHERE id IN (\(first), \(second))")
        #expect(try await fixture.claim(j, "w1") == [first])
        #expect(try await fixture.events(j, first).map(\.reason) == ["enqueued", "due", "claimed"])
        let claimEvent = try #require(try await fixture.events(j, first).last)
        #expect(claimEvent.from == .queued && claimEvent.to == .running && claimEvent.attempt == 1 && claimEvent.workerID == "w1")
        #expect(try await fixture.job(j, second).state == .queued)  // due, not claimed: queued
        #expect(try await fixture.events(j, second).last?.from == .scheduled)
        #expect(try await fixture.job(j, later).state == .scheduled)
        await closeAll(j)
    }

    @Test func claimsRequireALiveRegisteredWorkerAndThenRecordNothing() async throws {
        let fixture = try await RunFixture("ghost")
        let j = try await fixture.worker("w1")
        let id = try await fixture.enqueue(j)
        #expect(await journalErrorCode { _ = try await fixture.claim(j, "ghost") } == .workerNotRegistered)
        #expect(try await fixture.claim(j, "w1") == [id])
        _ = try await fixture.sql("UPDATE workers SET stopped_at = worker_micros() WHERE id = 'w1'")
        let code = await journalErrorCode {
            _ = try await j.finishAndClaim(finished: [(id, .completed)], claim: ClaimRequest(worker: "w1", limit: 1))
        }
        #expect(code == .workerNotRegistered)
        #expect(try await fixture.job(j, id).state == .running)  // the round rolled back as a whole
        await closeAll(j)
    }

    @Test func claimsAheadOnlyTheShortJobsAtTheHeadOfTheQueue() async throws {
        let fixture = try await RunFixture("ahead")
        let j = try await fixture.worker("w1")
        let first = [try await fixture.enqueue(j, "noop"), try await fixture.enqueue(j, "noop")]
        let slow = try await fixture.enqueue(j, "sleep")
        let after = try await fixture.enqueue(j, "noop")
        var request = ClaimRequest(worker: "w1", limit: 1)
        request.ahead = 5
        request.aheadHandlers = ["noop"]
        #expect(try await j.finishAndClaim(finished: [], claim: request).claimed.map(\.id) == first)
        request.limit = 0
        #expect(try await j.finishAndClaim(finished: [], claim: request).claimed.isEmpty)
        request.limit = 1
        #expect(try await j.finishAndClaim(finished: [], claim: request).claimed.map(\.id) == [slow, after])
        await closeAll(j)
    }

    @Test func claimsNothingAheadWhileASuspectWaitsOrIsClaimed() async throws {
        let fixture = try await RunFixture("suspect")
        let j = try await fixture.worker("w1")
        let suspect = try await fixture.enqueue(j, "crash")
        _ = try await fixture.sql("UPDATE jobs SET state = 'interrupted', crashes = 1, attempts = 1 WHERE id = \(suspect)")
        for _ in 0..<3 { try await fixture.enqueue(j, "noop") }
        for short in [nil, ["noop"]] as [[String]?] {
            var busy = ClaimRequest(worker: "w1", limit: 0, isolateSuspects: true, busy: true)
            busy.ahead = 5
            busy.aheadHandlers = short
            #expect(try await j.finishAndClaim(finished: [], claim: busy).claimed.isEmpty)
        }
        var idle = ClaimRequest(worker: "w1", limit: 1, isolateSuspects: true)
        idle.ahead = 5
        idle.aheadHandlers = ["noop"]
        #expect(try await j.finishAndClaim(finished: [], claim: idle).claimed.map(\.id) == [suspect])
        await closeAll(j)
    }

    @Test func aJobWithFewerCrashesThanSuspectCrashesIsClaimedLikeAnyOther() async throws {
        let fixture = try await RunFixture("onecrash")
        let j = try await fixture.worker("w1")
        let once = try await fixture.enqueue(j, "crash")
        _ = try await fixture.sql("UPDATE jobs SET state = 'interrupted', crashes = 1, attempts = 1 WHERE id = \(once)")
        let others = [try await fixture.enqueue(j, "noop"), try await fixture.enqueue(j, "noop")]
        var busy = ClaimRequest(worker: "w1", limit: 3, isolateSuspects: true, busy: true)
        busy.suspectCrashes = 2
        #expect(try await j.finishAndClaim(finished: [], claim: busy).claimed.map(\.id) == [once] + others)
        await closeAll(j)
    }

    @Test func pluginStampsAreRecordedOnClaimedJobs() async throws {
        let fixture = try await RunFixture("stamps")
        let j = try await fixture.worker("w1")
        let stamped = try await fixture.enqueue(j, "noop")
        let plain = try await fixture.enqueue(j, "other")
        let stamp = PluginStamp(name: "basic", version: "1.2", sha256: "ab12")
        let claimed = try await j.finishAndClaim(
            finished: [], claim: ClaimRequest(worker: "w1", limit: 2, plugins: ["noop": stamp])).claimed
        #expect(claimed.map(\.id) == [stamped, plain])
        #expect(claimed[0].plugin == stamp && claimed[1].plugin == nil)
        #expect(try await fixture.job(j, stamped).plugin == stamp)
        await closeAll(j)
    }

    /// Four claimers in separate journals (pools) take 2,000 jobs in rounds: each job is claimed and completed
    /// exactly once.
    @Test func noJobIsClaimedTwiceByConcurrentWorkers() async throws {
        let fixture = try await RunFixture("concurrent")
        let setup = try await fixture.open()
        _ = try await setup.rows("""
            WITH job AS (INSERT INTO jobs (handler, state, payload, max_attempts, run_at, created_at, updated_at)
                         SELECT 'noop', 'queued', '{}', 25, worker_micros(), worker_micros(), worker_micros()
                         FROM generate_series(1, 2000) RETURNING id)
            INSERT INTO job_events (job_id, at, to_state, attempt, pid, reason) SELECT id, worker_micros(), 'queued', 0, 1, 'enqueued' FROM job
            """)
        let began = ContinuousClock.now
        let claims = try await withThrowingTaskGroup(of: [Int64].self) { group in
            for n in 1...4 {
                group.addTask {
                    let worker = "c\(n)"
                    let journal = try await fixture.worker(worker)
                    var mine: [Int64] = []
                    var held: [Int64] = []
                    while true {
                        let round = try await journal.finishAndClaim(
                            finished: held.map { ($0, .completed) }, claim: ClaimRequest(worker: worker, limit: 10))
                        #expect(round.finished.allSatisfy { (try? $0.get()) == .completed })
                        held = round.claimed.map(\.id)
                        mine += held
                        if held.isEmpty { break }
                    }
                    await closeAll(journal)
                    return mine
                }
            }
            return try await group.reduce(into: []) { $0 += $1 }
        }
        print("4 claimers, rounds of 10: 2,000 jobs claimed and completed in \(ContinuousClock.now - began) (debug build)")
        #expect(claims.count == 2000)
        #expect(Set(claims).count == 2000)
        #expect(try await fixture.sql("SELECT count(*) FROM jobs WHERE state = 'completed'") == "2000")
        #expect(try await fixture.sql("""
            SELECT count(*) FROM (SELECT job_id FROM job_events GROUP BY job_id
                                  HAVING count(*) FILTER (WHERE to_state = 'running') <> 1
                                      OR count(*) FILTER (WHERE to_state = 'completed') <> 1) AS twice
            """) == "0")
        await closeAll(setup)
    }
}
