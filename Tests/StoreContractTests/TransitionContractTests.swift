import Foundation
import Testing
import WorkerStore
import WorkerTestKit

/// The contract's states and transitions, on every store.
@Suite struct TransitionContractTests {
    @Test(arguments: StoreKind.allCases, JobState.allCases)
    func retryIsAcceptedOnlyFromDeadCancelledAndRetrying(kind: StoreKind, state: JobState) async throws {
        let fixture = try await StoreFixture.make(kind)
        let id = try await fixture.job(in: state)
        let code = await journalErrorCode { _ = try await fixture.store.retry(job: id) }
        if [.dead, .cancelled, .retrying].contains(state) {
            #expect(code == nil)
            #expect(try await fixture.store.job(id).state == .queued)
        } else {
            #expect(code == .illegalTransition)
            #expect(try await fixture.store.job(id).state == state)
        }
        await fixture.close()
    }

    @Test(arguments: StoreKind.allCases, JobState.allCases)
    func cancelMovesWaitingJobsAsksRunningOnesAndRefusesFinishedOnes(kind: StoreKind, state: JobState) async throws {
        let fixture = try await StoreFixture.make(kind)
        let id = try await fixture.job(in: state)
        var result: CancelResult?
        let code = await journalErrorCode { result = try await fixture.store.cancel(job: id) }
        let after = try await fixture.store.job(id)
        switch state {
        case .scheduled, .queued, .retrying, .interrupted:
            #expect(code == nil)
            #expect(after.state == .cancelled && after.finishedAt != nil)
        case .running:
            #expect(code == nil)
            #expect(after.state == .running && after.cancelRequestedAt != nil)
            if case .requested = result {} else { Issue.record("expected a cancel request, got \(String(describing: result))") }
            #expect(try await fixture.store.cancelRequests(worker: fixture.worker) == [id])
        case .cancelled:
            if case .alreadyCancelled = result {} else { Issue.record("expected alreadyCancelled, got \(String(describing: result))") }
        case .completed, .dead:
            #expect(code == .illegalTransition)
            #expect(after.state == state)
        }
        await fixture.close()
    }

    /// Every change of state is one event, and the events of a job chain: each starts where the last ended.
    @Test(arguments: StoreKind.allCases)
    func theEventsOfEveryJobChainFromCreationToItsState(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        var ids: [Int64] = []
        for state in JobState.allCases { ids.append(try await fixture.job(in: state)) }
        let retried = try await fixture.job(in: .dead)
        _ = try await fixture.store.retry(job: retried)
        ids.append(retried)
        for id in ids {
            let job = try await fixture.store.job(id)
            let events = try await fixture.store.events(job: id)
            #expect(events.first?.from == nil, "job \(id) was not created by its first event")
            for (earlier, later) in zip(events, events.dropFirst()) {
                #expect(later.from == earlier.to, "job \(id): \(earlier.to) then \(String(describing: later.from))")
                #expect(JobState.canTransition(from: later.from, to: later.to))
                #expect(later.at >= earlier.at && later.id > earlier.id)
            }
            #expect(events.last?.to == job.state, "job \(id)")
        }
        #expect(try await fixture.store.verify().isSound)
        await fixture.close()
    }

    @Test(arguments: StoreKind.allCases)
    func outcomesMoveARunningJobAsTheContractSays(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        let completed = try await fixture.job(in: .completed)
        let job = try await fixture.store.job(completed)
        #expect(job.state == .completed && job.finishedAt != nil && job.attempts == 1 && job.lastError == nil)

        let retrying = try await fixture.job(in: .retrying)
        let retried = try await fixture.store.job(retrying)
        #expect(retried.state == .retrying && retried.lastError == "boom" && retried.runAt > retried.updatedAt)
        #expect(try await fixture.store.events(job: retrying).last?.reason.hasPrefix("failed: boom; retry at ") == true)

        let interrupted = try await fixture.store.job(try await fixture.job(in: .interrupted))
        #expect(interrupted.state == .interrupted && interrupted.attempts == 0, "a graceful interruption gives its attempt back")

        let once = try await fixture.enqueue("once", maxAttempts: 1)
        _ = try await fixture.claim(1, handlers: ["once"])
        #expect(try await fixture.finish(once, .failed(error: "no luck")).get() == .dead)
        #expect(try await fixture.store.events(job: once).last?.reason == "failed: no luck; attempts exhausted (1 of 1)")

        let fatal = try await fixture.store.job(try await fixture.job(in: .dead))
        #expect(fatal.state == .dead && fatal.lastError == "fatal")

        let cancelled = try await fixture.enqueue("stop")
        _ = try await fixture.claim(1, handlers: ["stop"])
        #expect(try await fixture.finish(cancelled, .cancelled(reason: "asked")).get() == .cancelled)
        #expect(try await fixture.store.events(job: cancelled).last?.reason == "cancelled: asked")
        await fixture.close()
    }

    /// The fence: only the worker holding a running job records its outcome; anyone else is refused, and the job
    /// is left as it was.
    @Test(arguments: StoreKind.allCases)
    func anOutcomeFromAWorkerNotHoldingTheJobIsRefused(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        try await fixture.register("w2")
        let id = try await fixture.job(in: .running)
        let refused = try await fixture.finish(id, .completed, worker: "w2")
        guard case .failure(let error) = refused else { Issue.record("w2 completed w1's job"); return }
        #expect(error.code == .notHeld)
        #expect(try await fixture.store.job(id).state == .running)
        #expect(try await fixture.finish(id, .completed).get() == .completed)
        guard case .failure(let again) = try await fixture.finish(id, .completed) else {
            Issue.record("a job was completed twice"); return
        }
        #expect(again.code == .notHeld)
        #expect(try await fixture.store.events(job: id).filter { $0.to == .completed }.count == 1)
        let missing = try await fixture.finish(999_999, .completed)
        guard case .failure(let notFound) = missing else { Issue.record("a missing job completed"); return }
        #expect(notFound.code == .jobNotFound)
        await fixture.close()
    }

    /// A long failure message is kept to `Job.errorLimit` bytes in the job and its event.
    @Test(arguments: StoreKind.allCases)
    func aHugeErrorIsCut(kind: StoreKind) async throws {
        let fixture = try await StoreFixture.make(kind)
        let id = try await fixture.enqueue(maxAttempts: 1)
        _ = try await fixture.claim()
        _ = try await fixture.finish(id, .failed(error: String(repeating: "é", count: 10_000)))
        let job = try await fixture.store.job(id)
        #expect((job.lastError?.utf8.count ?? 0) <= Job.errorLimit + 100)
        #expect((try await fixture.store.events(job: id).last?.reason.utf8.count ?? 0) <= Job.errorLimit + 200)
        await fixture.close()
    }
}
