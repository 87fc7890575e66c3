import Foundation
import PostgresNIO
@testable import PostgresJournal
import Testing
import WorkerStore
import WorkerTestKit

/// `retry` and `cancel` of one job: the SQLite journal's transitions, events and refusals.
@Suite struct PGOperatorCommandTests {
    @Test(arguments: JobState.allCases)
    func retryIsAcceptedOnlyFromDeadCancelledAndRetrying(state: JobState) async throws {
        let fixture = try await OpsFixture("ops")
        let id = try await fixture.job(in: state)
        let before = try await fixture.job(id)
        let eventsBefore = try await fixture.events(id).count
        let code = await journalErrorCode { _ = try await fixture.journal.retry(job: id) }
        let after = try await fixture.job(id)
        if [.dead, .cancelled, .retrying].contains(state) {
            #expect(code == nil)
            #expect(after.state == .queued && after.finishedAt == nil)
            #expect(after.attempts == (state.isFinished ? 0 : before.attempts))  // a finished job gets fresh attempts
            #expect(after.runAt == after.updatedAt)
            let last = try #require(try await fixture.events(id).last)
            #expect(last.from == state && last.to == .queued && last.attempt == after.attempts)
            #expect(last.reason == "retried by operator" && last.workerID == nil && last.pid == getpid() && last.at == after.updatedAt)
        } else {
            #expect(code == .illegalTransition)
            #expect(after == before)
            #expect(try await fixture.events(id).count == eventsBefore)
        }
        await fixture.close()
    }

    @Test(arguments: JobState.allCases)
    func cancelMovesWaitingJobsAndRefusesFinishedOnes(state: JobState) async throws {
        let fixture = try await OpsFixture("ops")
        let id = try await fixture.job(in: state)
        let eventsBefore = try await fixture.events(id).count
        var result: CancelResult?
        let code = await journalErrorCode { result = try await fixture.journal.cancel(job: id) }
        let after = try await fixture.job(id)
        switch state {
        case .scheduled, .queued, .retrying, .interrupted:
            #expect(code == nil)
            #expect(after.state == .cancelled && after.finishedAt == after.updatedAt)
            #expect(result == .cancelled(after))
            let last = try #require(try await fixture.events(id).last)
            #expect(last.from == state && last.to == .cancelled && last.reason == "cancelled by operator" && last.attempt == after.attempts)
        case .running:
            #expect(code == nil)
            #expect(after.state == .running && after.cancelRequestedAt != nil)
            #expect(result == .requested(after))
            #expect(try await fixture.events(id).count == eventsBefore)  // a request is not a transition
            // Asked again: the first request's time stays.
            #expect(try await fixture.journal.cancel(job: id) == .requested(after))
        case .cancelled:
            #expect(result == .alreadyCancelled(after))
            #expect(try await fixture.events(id).count == eventsBefore)
        case .completed, .dead:
            #expect(code == .illegalTransition)
            #expect(after.state == state)
        }
        await fixture.close()
    }

    @Test func aMissingJobIsNotFound() async throws {
        let fixture = try await OpsFixture("ops")
        #expect(await journalErrorCode { _ = try await fixture.journal.retry(job: 4242) } == .jobNotFound)
        #expect(await journalErrorCode { _ = try await fixture.journal.cancel(job: 4242) } == .jobNotFound)
        await fixture.close()
    }

    @Test func retryingAFinishedJobWhoseKeyIsTakenIsRefused() async throws {
        let fixture = try await OpsFixture("ops")
        let old = try await fixture.enqueue(key: "k")
        _ = try await fixture.journal.cancel(job: old)
        let new = try await fixture.enqueue(key: "k")
        #expect(new != old)
        do {
            _ = try await fixture.journal.retry(job: old)
            Issue.record("retried a job whose key is held")
        } catch let error as JournalError {
            #expect(error.code == .uniqueKeyConflict)
            #expect(error.message == "job \(old) cannot be retried: job \(new) with the same key 'k' is not finished; cancel or wait for it")
        }
        #expect(try await fixture.job(old).state == .cancelled)
        // Once the holder finishes, the old job can be retried, and then holds the key.
        _ = try await fixture.journal.cancel(job: new)
        #expect(try await fixture.journal.retry(job: old).state == .queued)
        #expect(try await fixture.journal.enqueue(NewJob(handler: "noop", uniqueKey: "k")).job.id == old)
        await fixture.close()
    }

    @Test func aRetryWakesTheWorkersAndACancelDoesNot() async throws {
        let fixture = try await OpsFixture("ops")
        let dead = try await fixture.job(in: .dead)
        let queued = try await fixture.job(in: .queued)
        let listener = try await Listener.start(fixture)
        _ = try await fixture.journal.cancel(job: queued)
        _ = try await fixture.journal.retry(job: dead)
        try await fixture.journal.rows("SELECT pg_notify('worker_jobs', 'marker')")
        #expect(try await listener.next(2) == ["n", "marker"])
        try await listener.stop()
        await fixture.close()
    }
}
