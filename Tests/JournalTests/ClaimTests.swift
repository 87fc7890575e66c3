import WorkerTestKit
import Foundation
import GRDB
import Journal
import WorkerStore
import Testing

@Suite struct ClaimTests {
    /// A claim that waited for the write lock takes its time under the lock: a job that the transaction it waited
    /// for enqueued, stamped with that (later) time, is due in it and, more urgent, claimed before older work.
    @Test func aClaimThatWaitedForTheLockSeesWhatWasEnqueuedMeanwhile() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        _ = try await fixture.enqueue(priority: 0)
        // Another process holds the write lock while the claim begins. Time goes on; then it enqueues an urgent
        // job stamped with its own, later time, and commits.
        let other = try DatabaseQueue(path: fixture.directory.file("worker.sqlite3"))
        let locked = DispatchSemaphore(value: 0), release = DispatchSemaphore(value: 0)
        let clock = fixture.clock
        Thread {
            try? other.writeWithoutTransaction { db in
                try db.inTransaction(.immediate) {
                    locked.signal()
                    release.wait()
                    try db.execute(sql: """
                        INSERT INTO jobs (handler, state, payload, priority, max_attempts, run_at, created_at, updated_at)
                        VALUES ('noop', 'queued', '{}', 10, 25, ?1, ?1, ?1)
                        """, arguments: [clock.now])
                    try db.execute(sql: """
                        INSERT INTO job_events (job_id, at, from_state, to_state, attempt, pid, reason)
                        VALUES (?, ?, NULL, 'queued', 0, 0, 'enqueued')
                        """, arguments: [db.lastInsertedRowID, clock.now])
                    return .commit
                }
            }
        }.start()
        locked.wait()
        let claim = Task { try await fixture.claim(1) }
        try await Task.sleep(for: .milliseconds(200))  // the claim has begun and waits for the lock
        fixture.clock.advance(seconds: 1)
        release.signal()
        let claimed = try await claim.value
        let id = try #require(try await other.read { db in try Int64.fetchOne(db, sql: "SELECT id FROM jobs WHERE priority = 10") })
        #expect(claimed == [id], "the claim passed over the urgent job enqueued while it waited")
        #expect(try await fixture.journal.verify().isSound)
    }

    @Test func claimOrderIsInterruptedThenPriorityThenRunAtThenId() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let low = try await fixture.enqueue(priority: 0)
        fixture.clock.advance(seconds: 1)
        let highLate = try await fixture.enqueue(priority: 5)
        let highEarly = try await fixture.enqueue(priority: 5, runAt: fixture.clock.now - 10_000_000)
        let lowSameTime = try await fixture.enqueue(priority: 0, runAt: fixture.clock.now - 1_000_000)
        let lowest = try await fixture.enqueue(priority: -10)
        // The interrupted job comes back before every waiting one.
        #expect(try await fixture.claim(1) == [highEarly])
        _ = try await fixture.journal.finish(job: highEarly, worker: fixture.worker, outcome: .interrupted(reason: "test"))
        #expect(try await fixture.claim(1) == [highEarly])  // interrupted now, so it resumes first
        _ = try await fixture.journal.finish(job: highEarly, worker: fixture.worker, outcome: .completed)
        #expect(try await fixture.claim(10) == [highLate, low, lowSameTime, lowest])
    }

    @Test func interruptedJobsResumeBeforeHigherPriorityNewOnes() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let old = try await fixture.enqueue(priority: 0)
        #expect(try await fixture.claim() == [old])
        _ = try await fixture.journal.finish(job: old, worker: fixture.worker, outcome: .interrupted(reason: "signal"))
        let urgent = try await fixture.enqueue(priority: 100)
        #expect(try await fixture.claim(2) == [old, urgent])
    }

    @Test func queueAndHandlerFiltersAreHonoured() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let mail = try await fixture.enqueue("send", queue: "mail")
        let report = try await fixture.enqueue("build", queue: "reports")
        let other = try await fixture.enqueue("missing-handler", queue: "mail")
        #expect(try await fixture.claim(10, queues: ["reports"]) == [report])
        #expect(try await fixture.claim(10, handlers: ["send", "build"]) == [mail])
        #expect(try await fixture.claim(10, handlers: []) == [])
        #expect(try await fixture.journal.job(other).state == .queued)
    }

    /// `worker resume` names its jobs: more of them than SQLite takes parameters
    /// (32,766 by default, 250,000 as Debian builds it) must still work.
    @Test func aClaimMayNameMoreJobsThanSQLiteTakesParameters() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let skipped = try await fixture.enqueue()
        let wanted = try await fixture.enqueue()
        let ids = [wanted] + (1...300_000).map { wanted + Int64($0) * 10 }  // only `wanted` exists among them
        #expect(try await fixture.journal.unfinishedCount(of: ids) == 1)
        let claimed = try await fixture.journal.claim(ClaimRequest(worker: fixture.worker, limit: 10, ids: ids))
        #expect(claimed.map(\.id) == [wanted])
        #expect(try await fixture.journal.job(skipped).state == .queued)
    }

    @Test func aFailedJobWaitsForItsBackoff() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let id = try await fixture.enqueue(maxAttempts: 5)
        _ = try await fixture.claim()
        _ = try await fixture.journal.finish(job: id, worker: fixture.worker, outcome: .failed(error: "e1"))
        #expect(try await fixture.claim().isEmpty)  // base delay is 1 s
        fixture.clock.advance(seconds: 1)
        #expect(try await fixture.claim() == [id])
        _ = try await fixture.journal.finish(job: id, worker: fixture.worker, outcome: .failed(error: "e2"))
        let second = try await fixture.journal.job(id)
        #expect(second.runAt == fixture.clock.now + 2_000_000)  // doubled
        #expect(second.attempts == 2)
    }

    @Test func claimsRequireALiveRegisteredWorker() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        _ = try await fixture.enqueue()
        let code = await journalErrorCode { _ = try await fixture.journal.claim(ClaimRequest(worker: "ghost", limit: 1)) }
        #expect(code == .workerNotRegistered)
        try await fixture.journal.deregister(worker: fixture.worker, reason: "stopping")
        #expect(await journalErrorCode { _ = try await fixture.claim() } == .workerNotRegistered)
    }

    @Test func groupCommitRecordsEachOutcomeAndReportsJobsNoLongerHeld() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        for _ in 0..<3 { _ = try await fixture.enqueue() }
        let ids = try await fixture.claim(3)
        _ = try await fixture.journal.finish(job: ids[1], worker: fixture.worker, outcome: .completed)
        let results = try await fixture.journal.finish(
            batch: [(ids[0], .completed), (ids[1], .completed), (ids[2], .failed(error: "x", retryable: false))],
            worker: fixture.worker)
        #expect((try? results[0].get()) == .completed)
        #expect((try? results[2].get()) == .dead)
        if case .failure(let error) = results[1] { #expect(error.code == .notHeld) } else { Issue.record("finished twice") }
        #expect(try await fixture.journal.events(job: ids[1]).filter { $0.to == .completed }.count == 1)
        // Completions in a batch are recorded set-based: the same event as one by one.
        let event = try await fixture.journal.events(job: ids[0]).last
        #expect(event?.from == .running && event?.to == .completed)
        #expect(event?.workerID == fixture.worker && event?.attempt == 1 && event?.reason == "completed")
        let job = try await fixture.journal.job(ids[0])
        #expect(job.state == .completed && job.finishedAt != nil && job.lastError == nil)
    }

    @Test func claimsAheadOnlyTheShortJobsAtTheHeadOfTheQueue() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let first = [try await fixture.enqueue("noop"), try await fixture.enqueue("noop")]
        let slow = try await fixture.enqueue("sleep")
        let after = try await fixture.enqueue("noop")
        var request = ClaimRequest(worker: fixture.worker, limit: 1)
        request.ahead = 5
        request.aheadHandlers = ["noop"]
        // A slot takes the first job; the reserve takes the next while they are short, and stops at the slow one.
        #expect(try await fixture.journal.claim(request).map(\.id) == first)
        request.limit = 0
        #expect(try await fixture.journal.claim(request).isEmpty)  // the slow job is next: it waits for a slot
        request.limit = 1
        #expect(try await fixture.journal.claim(request).map(\.id) == [slow, after])
    }

    @Test func claimsNothingAheadWhileASuspectWaitsOrIsClaimed() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let suspect = try await fixture.enqueue("crash")
        try await fixture.journal.register(WorkerRegistration(id: "dead", pid: 7, host: "t", processStartedAt: nil, version: "t"))
        _ = try await fixture.journal.claim(ClaimRequest(worker: "dead", limit: 1))
        _ = try await fixture.journal.recoverOrphans(of: "dead", by: nil, reason: "worker dead died")
        for _ in 0..<3 { _ = try await fixture.enqueue("noop") }
        for short in [nil, ["noop"]] as [[String]?] {  // also when the reserve asks for other handlers than the suspect's
            var busy = ClaimRequest(worker: fixture.worker, limit: 0, isolateSuspects: true, busy: true)
            busy.ahead = 5
            busy.aheadHandlers = short
            #expect(try await fixture.journal.claim(busy).isEmpty)  // the suspect waits for an idle worker
        }
        var idle = ClaimRequest(worker: fixture.worker, limit: 1, isolateSuspects: true)
        idle.ahead = 5
        idle.aheadHandlers = ["noop"]
        #expect(try await fixture.journal.claim(idle).map(\.id) == [suspect])  // alone, nothing ahead
    }

    @Test func aJobWithFewerCrashesThanSuspectCrashesIsClaimedLikeAnyOther() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let once = try await fixture.enqueue("crash")
        try await fixture.journal.register(WorkerRegistration(id: "dead", pid: 7, host: "t", processStartedAt: nil, version: "t"))
        _ = try await fixture.journal.claim(ClaimRequest(worker: "dead", limit: 1))
        _ = try await fixture.journal.recoverOrphans(of: "dead", by: nil, reason: "worker dead died")
        let others = [try await fixture.enqueue("noop"), try await fixture.enqueue("noop")]
        var busy = ClaimRequest(worker: fixture.worker, limit: 3, isolateSuspects: true, busy: true)
        busy.suspectCrashes = 2
        #expect(try await fixture.journal.claim(busy).map(\.id) == [once] + others)  // first, beside the others
    }
}
