import Foundation
import PostgresNIO
@testable import PostgresJournal
import Testing
import WorkerStore
import WorkerTestKit

/// `plan` and `apply` on PostgreSQL: a bulk retry or cancel changes exactly the jobs the single-job command
/// would, journals each, and skips what moved on between the plan and the write.
@Suite struct PGBulkChangeTests {
    func oneInEachState(_ fixture: OpsFixture) async throws -> [JobState: Int64] {
        var ids: [JobState: Int64] = [:]
        for state in JobState.allCases { ids[state] = try await fixture.job(in: state) }
        return ids
    }

    @Test func bulkRetryTakesDeadCancelledAndRetryingJobsOnly() async throws {
        let fixture = try await OpsFixture("bulk")
        let ids = try await oneInEachState(fixture)
        let plan = try await fixture.journal.plan(.retry, JobFilter(queue: "default"))
        #expect(Set(plan.accepted.map(\.id)) == [ids[.dead]!, ids[.cancelled]!, ids[.retrying]!])
        #expect(plan.skipped == ["scheduled": 1, "queued": 1, "running": 1, "interrupted": 1, "completed": 1])
        #expect(plan.matched == 8 && plan.ceiling == ids.values.max()!)
        let listener = try await Listener.start(fixture)
        let result = try await fixture.journal.apply(plan, reason: "retried by operator in bulk (--queue default)")
        #expect(result == BulkResult(changed: 3, requested: 0, skipped: plan.skipped))
        for state in [JobState.dead, .cancelled, .retrying] {
            #expect(try await fixture.job(ids[state]!).state == .queued)
            let last = try #require(try await fixture.events(ids[state]!).last)
            #expect(last.from == state && last.to == .queued && last.reason == "retried by operator in bulk (--queue default)")
        }
        #expect(try await fixture.job(ids[.completed]!).state == .completed)
        #expect(try await fixture.job(ids[.dead]!).attempts == 0)
        #expect(try await fixture.job(ids[.retrying]!).attempts == 1)
        try await fixture.journal.rows("SELECT pg_notify('worker_jobs', 'marker')")
        #expect(try await listener.next(2) == ["n", "marker"])  // one wake-up for the batch
        try await listener.stop()
        await fixture.close()
    }

    @Test func bulkCancelTakesUnfinishedJobsAndAsksRunningOnesToStop() async throws {
        let fixture = try await OpsFixture("bulk")
        let ids = try await oneInEachState(fixture)
        let plan = try await fixture.journal.plan(.cancel, JobFilter())
        #expect(plan.skipped == ["completed": 1, "dead": 1, "cancelled": 1])
        let result = try await fixture.journal.apply(plan, reason: "cancelled by operator in bulk (--state x)")
        #expect(result == BulkResult(changed: 4, requested: 1, skipped: plan.skipped))
        for state in [JobState.scheduled, .queued, .retrying, .interrupted] {
            #expect(try await fixture.job(ids[state]!).state == .cancelled)
            #expect(try await fixture.events(ids[state]!).last?.reason == "cancelled by operator in bulk (--state x)")
        }
        let running = try await fixture.job(ids[.running]!)
        #expect(running.state == .running && running.cancelRequestedAt != nil)
        await fixture.close()
    }

    @Test func filtersSelectByStateHandlerQueueTimeAndText() async throws {
        let fixture = try await OpsFixture("bulk")
        let a = try await fixture.journal.enqueue(NewJob(handler: "mail", payload: #"{"to":"50%_off@example"}"#, queue: "q1")).job.id
        let b = try await fixture.journal.enqueue(NewJob(handler: "mail", payload: #"{"to":"x"}"#, queue: "q2")).job.id
        let c = try await fixture.journal.enqueue(NewJob(handler: "sms", queue: "q1")).job.id
        let since = try await fixture.now()
        let d = try await fixture.journal.enqueue(NewJob(handler: "mail", queue: "q1")).job.id
        func ids(_ filter: JobFilter) async throws -> [Int64] { try await fixture.journal.plan(.cancel, filter).accepted.map(\.id) }
        #expect(try await ids(JobFilter(handler: "mail")) == [a, b, d])
        #expect(try await ids(JobFilter(handler: "mail", queue: "q1")) == [a, d])
        #expect(try await ids(JobFilter(createdSince: since)) == [d])
        #expect(try await ids(JobFilter(search: "50%_off")) == [a])  // plain text, not a LIKE pattern
        #expect(try await ids(JobFilter(search: "%")) == [a])
        #expect(try await ids(JobFilter(state: .queued, handler: "sms")) == [c])
        #expect(try await ids(JobFilter(state: .running)) == [])
        #expect(try await fixture.journal.plan(.cancel, JobFilter(state: .running)).ceiling == d)
        await fixture.close()
    }

    @Test func jobsThatMovedOnAfterThePlanAreSkipped() async throws {
        let fixture = try await OpsFixture("bulk")
        let first = try await fixture.enqueue()
        let second = try await fixture.enqueue()
        let third = try await fixture.enqueue()
        let plan = try await fixture.journal.plan(.cancel, JobFilter(state: .queued))
        #expect(plan.accepted.map(\.id) == [first, second, third])
        // Meanwhile a worker claims the first, an operator cancels the second, and a new job is enqueued.
        try await fixture.drive(first, to: .running)
        _ = try await fixture.journal.cancel(job: second)
        let later = try await fixture.enqueue()
        let result = try await fixture.journal.apply(plan, reason: "bulk")
        #expect(result == BulkResult(changed: 1, requested: 0, skipped: ["changed meanwhile": 2]))
        #expect(try await fixture.job(first).state == .running)
        #expect(try await fixture.job(first).cancelRequestedAt == nil)  // no longer queued: not asked to stop
        #expect(try await fixture.job(third).state == .cancelled)
        #expect(try await fixture.job(later).state == .queued)  // enqueued after the plan: untouched
        await fixture.close()
    }

    @Test func retryingTwoDeadJobsWithOneKeyRetriesOne() async throws {
        let fixture = try await OpsFixture("bulk")
        let dead = [try await fixture.job(in: .dead, handler: "keyed", key: "k"), try await fixture.job(in: .dead, handler: "keyed", key: "k")]
        let result = try await fixture.journal.apply(try await fixture.journal.plan(.retry, JobFilter(handler: "keyed")), reason: "bulk")
        #expect(result == BulkResult(changed: 1, requested: 0, skipped: ["key in use": 1]))
        #expect(try await fixture.job(dead[0]).state == .queued)
        #expect(try await fixture.job(dead[1]).state == .dead)
        await fixture.close()
    }

    @Test func moreJobsThanOneBatchAreAllChanged() async throws {
        let fixture = try await OpsFixture("bulk")
        let count = PostgresJournal.bulkBatchSize * 2 + 7
        _ = try await fixture.journal.enqueue(batch: (0..<count).map { _ in NewJob(handler: "many", queue: "bulk") })
        _ = try await fixture.enqueue("other", queue: "bulk")
        var batches: [Int] = []
        let result = try await fixture.journal.apply(
            try await fixture.journal.plan(.cancel, JobFilter(handler: "many", queue: "bulk")), reason: "bulk"
        ) { batches.append($0) }
        #expect(result.changed == count)
        #expect(batches == [PostgresJournal.bulkBatchSize, PostgresJournal.bulkBatchSize * 2, count])
        #expect(try await fixture.count("state = 'cancelled'") == count)
        #expect(try await fixture.count("state = 'queued'") == 1)
        #expect(try await fixture.sql("SELECT count(*) FROM job_events WHERE to_state = 'cancelled' AND reason = 'bulk'") == "\(count)")
        await fixture.close()
    }

    /// A batch never waits on a row while it holds others (with a worker's round, which holds the jobs it claims
    /// and waits on those it finishes, that could deadlock): a job another transaction holds is skipped by the
    /// batch and changed on its own once free.
    @Test func aJobHeldByAnotherTransactionIsChangedOnceFreeWithoutHoldingTheRest() async throws {
        let fixture = try await OpsFixture("bulk")
        var ids: [Int64] = []
        for _ in 0..<5 { ids.append(try await fixture.job(in: .dead)) }
        let holder = try await fixture.connection()
        try await holder.run("BEGIN")
        try await holder.run("SELECT id FROM jobs WHERE id = \(ids[2]) FOR UPDATE")
        let plan = try await fixture.journal.plan(.retry, JobFilter(state: .dead))
        let journal = fixture.journal
        let applying = Task { try await journal.apply(plan, reason: "bulk") }
        // The other four are committed while the held one waits: the batch did not hold them while waiting.
        #expect(await eventually { (try? await fixture.count("state = 'queued'")) == 4 }, "the jobs not held were not retried")
        #expect(try await fixture.job(ids[2]).state == .dead)
        try await holder.run("COMMIT")
        let result = try await applying.value
        #expect(result == BulkResult(changed: 5, requested: 0, skipped: [:]))
        #expect(try await fixture.count("state = 'queued'") == 5)
        await holder.closeNow()
        await fixture.close()
    }
}
