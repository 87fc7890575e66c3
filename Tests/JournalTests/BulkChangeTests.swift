import Foundation
import Journal
import WorkerStore
import Testing

/// `plan` and `apply`: a bulk retry or cancel changes exactly the jobs the single-job command would, journals
/// each, and skips what moved on between the plan and the write.
@Suite struct BulkChangeTests {
    /// One job in each state, by state.
    func oneInEachState(_ fixture: Fixture) async throws -> [JobState: Int64] {
        var ids: [JobState: Int64] = [:]
        for state in JobState.allCases { ids[state] = try await fixture.job(in: state) }
        return ids
    }

    @Test func bulkRetryTakesDeadCancelledAndRetryingJobsOnly() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let ids = try await oneInEachState(fixture)
        let plan = try await fixture.journal.plan(.retry, JobFilter(queue: "default"))
        #expect(Set(plan.accepted.map(\.id)) == [ids[.dead]!, ids[.cancelled]!, ids[.retrying]!])
        #expect(plan.skipped == ["scheduled": 1, "queued": 1, "running": 1, "interrupted": 1, "completed": 1])
        #expect(plan.matched == 8)
        let result = try await fixture.journal.apply(plan, reason: "retried by operator in bulk (--queue default)")
        #expect(result == BulkResult(changed: 3, requested: 0, skipped: plan.skipped))
        for state in [JobState.dead, .cancelled, .retrying] {
            #expect(try await fixture.journal.job(ids[state]!).state == .queued)
            let last = try #require(try await fixture.journal.events(job: ids[state]!).last)
            #expect(last.from == state && last.to == .queued && last.reason == "retried by operator in bulk (--queue default)")
        }
        #expect(try await fixture.journal.job(ids[.completed]!).state == .completed)
        #expect(try await fixture.journal.job(ids[.dead]!).attempts == 0)  // fresh attempts, as `retry ID` gives
    }

    @Test func bulkCancelTakesUnfinishedJobsAndAsksRunningOnesToStop() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let ids = try await oneInEachState(fixture)
        let plan = try await fixture.journal.plan(.cancel, JobFilter())
        #expect(plan.skipped == ["completed": 1, "dead": 1, "cancelled": 1])
        let result = try await fixture.journal.apply(plan, reason: "cancelled by operator in bulk (--state x)")
        #expect(result == BulkResult(changed: 4, requested: 1, skipped: plan.skipped))
        for state in [JobState.scheduled, .queued, .retrying, .interrupted] {
            #expect(try await fixture.journal.job(ids[state]!).state == .cancelled)
            #expect(try await fixture.journal.events(job: ids[state]!).last?.reason == "cancelled by operator in bulk (--state x)")
        }
        let running = try await fixture.journal.job(ids[.running]!)
        #expect(running.state == .running && running.cancelRequestedAt != nil)
    }

    @Test func jobsThatMovedOnAfterThePlanAreSkipped() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let first = try await fixture.enqueue()
        let second = try await fixture.enqueue()
        let third = try await fixture.enqueue()
        let plan = try await fixture.journal.plan(.cancel, JobFilter(state: .queued))
        #expect(plan.accepted.map(\.id) == [first, second, third])
        // Meanwhile a worker claims the first, an operator cancels the second, and a new job is enqueued.
        #expect(try await fixture.claim() == [first])
        _ = try await fixture.journal.cancel(job: second)
        let later = try await fixture.enqueue()
        let result = try await fixture.journal.apply(plan, reason: "bulk")
        #expect(result == BulkResult(changed: 1, requested: 0, skipped: ["changed meanwhile": 2]))
        #expect(try await fixture.journal.job(first).state == .running)
        #expect(try await fixture.journal.job(first).cancelRequestedAt == nil)  // no longer queued: not asked to stop
        #expect(try await fixture.journal.job(third).state == .cancelled)
        #expect(try await fixture.journal.job(later).state == .queued)  // enqueued after the plan: untouched
    }

    @Test func retryingTwoDeadJobsWithOneKeyRetriesOne() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        var dead: [Int64] = []
        for _ in 0..<2 {
            let id = try await fixture.enqueue("keyed", key: "k")
            #expect(try await fixture.claim(1, handlers: ["keyed"]) == [id])
            _ = try await fixture.journal.finish(job: id, worker: fixture.worker, outcome: .failed(error: "x", retryable: false))
            dead.append(id)
        }
        let result = try await fixture.journal.apply(try await fixture.journal.plan(.retry, JobFilter(handler: "keyed")), reason: "bulk")
        #expect(result == BulkResult(changed: 1, requested: 0, skipped: ["key in use": 1]))
        #expect(try await fixture.journal.job(dead[0]).state == .queued)
        #expect(try await fixture.journal.job(dead[1]).state == .dead)
    }

    @Test func moreJobsThanOneBatchAreAllChanged() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let count = Journal.bulkBatchSize * 2 + 7
        _ = try await fixture.journal.enqueue(batch: (0..<count).map { _ in NewJob(handler: "many", queue: "bulk") })
        _ = try await fixture.enqueue("other", queue: "bulk")
        var batches: [Int] = []
        let result = try await fixture.journal.apply(
            try await fixture.journal.plan(.cancel, JobFilter(handler: "many", queue: "bulk")), reason: "bulk"
        ) { batches.append($0) }
        #expect(result.changed == count)
        #expect(batches == [Journal.bulkBatchSize, Journal.bulkBatchSize * 2, count])
        #expect(try await fixture.journal.stats()[.cancelled] == count)
        #expect(try await fixture.journal.stats()[.queued] == 1)
    }
}
