import Foundation
@testable import PostgresJournal
import Testing
import WorkerStore
import WorkerTestKit

/// Outcomes on PostgreSQL: the SQLite journal's transitions, events and backoff, each fenced by the token of the
/// claim that gave the job to this journal.
@Suite struct FinishTests {
    @Test func groupCommitRecordsEachOutcomeAndReportsJobsNoLongerHeld() async throws {
        let fixture = try await RunFixture("group")
        let j = try await fixture.worker("w1")
        for _ in 0..<3 { try await fixture.enqueue(j) }
        let ids = try await fixture.claim(j, "w1", 3)
        try await fixture.finish(j, ids[1], "w1", .completed)
        let results = try await j.finish(
            batch: [(ids[0], .completed), (ids[1], .completed), (ids[2], .failed(error: "x", retryable: false)), (ids[0], .completed)],
            worker: "w1")
        #expect((try? results[0].get()) == .completed)
        #expect((try? results[2].get()) == .dead)
        if case .failure(let error) = results[1] { #expect(error.code == .notHeld) } else { Issue.record("finished twice") }
        if case .failure(let error) = results[3] { #expect(error.code == .notHeld) } else { Issue.record("named twice, finished twice") }
        #expect(try await fixture.events(j, ids[1]).filter { $0.to == .completed }.count == 1)
        #expect(try await fixture.events(j, ids[0]).filter { $0.to == .completed }.count == 1)
        let event = try #require(try await fixture.events(j, ids[0]).last)
        #expect(event.from == .running && event.to == .completed)
        #expect(event.workerID == "w1" && event.attempt == 1 && event.reason == "completed" && event.pid == 4242)
        let job = try await fixture.job(j, ids[0])
        #expect(job.state == .completed && job.finishedAt != nil && job.lastError == nil)
        #expect(try await fixture.events(j, ids[2]).last?.reason == "failed: x; not retryable")
        #expect(await journalErrorCode { try await fixture.finish(j, 999_999, "w1", .completed) } == .jobNotFound)
        await closeAll(j)
    }

    /// Delays of a minute, then two (base 60 s, jitter factor exactly 1): long enough that no slow box makes a
    /// retry due before the test says so.
    @Test func aFailedJobWaitsForItsBackoffAndItsReasonNamesTheTime() async throws {
        let fixture = try await RunFixture("backoff")
        let j = try await fixture.worker("w1", retryPolicy: RetryPolicy(baseSeconds: 60))
        let id = try await fixture.enqueue(j, maxAttempts: 3)
        #expect(try await fixture.claim(j, "w1") == [id])
        #expect(try await fixture.finish(j, id, "w1", .failed(error: "e1")) == .retrying)
        let first = try await fixture.job(j, id)
        #expect(first.runAt - first.updatedAt == 60_000_000)
        #expect(first.lastError == "e1" && first.attempts == 1)
        #expect(try await fixture.events(j, id).last?.reason == "failed: e1; retry at \(iso8601(first.runAt))")
        #expect(try await fixture.claim(j, "w1").isEmpty)  // not due yet
        _ = try await fixture.sql("UPDATE jobs SET run_at = run_at - 600000000 WHERE id = \(id)")
        #expect(try await fixture.claim(j, "w1") == [id])
        try await fixture.finish(j, id, "w1", .failed(error: "e2"))
        let second = try await fixture.job(j, id)
        #expect(second.runAt - second.updatedAt == 120_000_000 && second.attempts == 2)  // doubled
        _ = try await fixture.sql("UPDATE jobs SET run_at = run_at - 600000000 WHERE id = \(id)")
        #expect(try await fixture.claim(j, "w1") == [id])
        #expect(try await fixture.finish(j, id, "w1", .failed(error: "e3")) == .dead)
        #expect(try await fixture.events(j, id).last?.reason == "failed: e3; attempts exhausted (3 of 3)")
        #expect(try await fixture.job(j, id).finishedAt != nil)
        await closeAll(j)
    }

    @Test func interruptionGivesTheAttemptBackAndCancellationFinishes() async throws {
        let fixture = try await RunFixture("interrupt")
        let j = try await fixture.worker("w1")
        let a = try await fixture.enqueue(j)
        let b = try await fixture.enqueue(j)
        #expect(try await fixture.claim(j, "w1", 2) == [a, b])
        let results = try await j.finish(batch: [(a, .interrupted(reason: "deadline")), (b, .cancelled(reason: "operator"))], worker: "w1")
        #expect(results.map { try? $0.get() } == [.interrupted, .cancelled])
        let interrupted = try await fixture.job(j, a)
        #expect(interrupted.attempts == 0 && interrupted.finishedAt == nil)
        #expect(try await fixture.events(j, a).last?.reason == "interrupted: deadline")
        #expect(try await fixture.events(j, a).last?.attempt == 0)
        #expect(try await fixture.job(j, b).finishedAt != nil)
        #expect(try await fixture.events(j, b).last?.reason == "cancelled: operator")
        await closeAll(j)
    }

    @Test func aLongErrorIsCutAsOnSQLite() async throws {
        let fixture = try await RunFixture("cut")
        let j = try await fixture.worker("w1")
        let id = try await fixture.enqueue(j)
        _ = try await fixture.claim(j, "w1")
        let text = String(repeating: "é", count: 5000)
        try await fixture.finish(j, id, "w1", .failed(error: text, retryable: false))
        let error = try #require(try await fixture.job(j, id).lastError)
        #expect(error == boundedText(text, limit: Job.errorLimit))
        #expect(error.utf8.count <= Job.errorLimit && error.hasSuffix("(cut: 10000 bytes)"))
        await closeAll(j)
    }

    /// The fence is the claim, not the worker's name: another process using the same worker id cannot record an
    /// outcome for a job it did not claim.
    @Test func anOutcomeFromAJournalThatDidNotClaimTheJobIsRefused() async throws {
        let fixture = try await RunFixture("token")
        let a = try await fixture.worker("w1")
        let other = try await fixture.open()
        let id = try await fixture.enqueue(a)
        #expect(try await fixture.claim(a, "w1") == [id])
        let refused = try await other.finish(batch: [(id, .completed)], worker: "w1")
        if case .failure(let error) = refused[0] { #expect(error.code == .notHeld) } else { Issue.record("recorded without the claim") }
        #expect(try await fixture.job(a, id).state == .running)
        #expect(try await fixture.finish(a, id, "w1", .completed) == .completed)
        #expect(try await a.cancelRequests(worker: "w1").isEmpty)
        await closeAll(a, other)
    }

    @Test func cancelRequestsListTheRunningJobsAnOperatorAskedToStop() async throws {
        let fixture = try await RunFixture("cancelreq")
        let j = try await fixture.worker("w1")
        let a = try await fixture.enqueue(j)
        let b = try await fixture.enqueue(j)
        _ = try await fixture.claim(j, "w1", 2)
        _ = try await fixture.sql("UPDATE jobs SET cancel_requested_at = worker_micros() WHERE id = \(b)")
        #expect(try await j.cancelRequests(worker: "w1") == [b])
        #expect(try await j.cancelRequests(worker: "w2").isEmpty)
        _ = a
        await closeAll(j)
    }
}
