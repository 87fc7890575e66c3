import WorkerTestKit
import Foundation
import Journal
import WorkerStore
import Testing

/// A step whose closure threw: recorded as failed with its error, apart from a step a worker died inside.
@Suite struct StepFailureJournalTests {
    @Test func aFailedStepKeepsItsErrorUntilALaterAttemptCompletesIt() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let id = try await fixture.enqueue("append")
        _ = try await fixture.claim()
        #expect(try await fixture.journal.beginStep(job: id, worker: fixture.worker, name: "charge") == nil)
        fixture.clock.advance(seconds: 1)
        try await fixture.journal.failStep(job: id, worker: fixture.worker, name: "charge", error: "card declined")
        var step = try #require(try await fixture.journal.steps(job: id).first)
        #expect(step.completedAt == nil)
        #expect(step.failedAt == fixture.clock.now)
        #expect(step.failedAttempt == 1)
        #expect(step.error == "card declined")
        _ = try await fixture.journal.finish(job: id, worker: fixture.worker, outcome: .failed(error: "card declined"))

        // The next attempt runs the step again; until it ends, the last failure stays, marked as an earlier one.
        fixture.clock.advance(seconds: 10)
        #expect(try await fixture.claim() == [id])
        #expect(try await fixture.journal.beginStep(job: id, worker: fixture.worker, name: "charge") == nil)
        step = try #require(try await fixture.journal.steps(job: id).first)
        #expect(step.attempt == 2)
        #expect(step.failedAt == nil)
        #expect(step.failedAttempt == 1)
        #expect(step.error == "card declined")

        try await fixture.journal.commitStep(job: id, worker: fixture.worker, name: "charge", result: Data("1".utf8))
        step = try #require(try await fixture.journal.steps(job: id).first)
        #expect(step.completedAt != nil)
        #expect(step.failedAt == nil && step.failedAttempt == nil && step.error == nil)
        _ = try await fixture.journal.finish(job: id, worker: fixture.worker, outcome: .completed)
        #expect(try await fixture.journal.verify().isSound)
    }

    @Test func onlyTheWorkerHoldingTheJobCanFailAStep() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let id = try await fixture.enqueue()
        _ = try await fixture.claim()
        #expect(try await fixture.journal.beginStep(job: id, worker: fixture.worker, name: "s") == nil)
        _ = try await fixture.journal.recoverOrphans(of: fixture.worker, by: "w9", reason: "presumed dead")
        let code = await journalErrorCode {
            try await fixture.journal.failStep(job: id, worker: fixture.worker, name: "s", error: "late")
        }
        #expect(code == .notHeld)
        let step = try #require(try await fixture.journal.steps(job: id).first)
        #expect(step.failedAt == nil && step.error == nil)  // begun, not completed: as a worker that died leaves it
    }

    /// A failure names a step this attempt began and did not complete: otherwise it is refused and nothing changes.
    @Test func aStepNotBegunByThisAttemptOrCompletedCannotFail() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let id = try await fixture.enqueue()
        _ = try await fixture.claim()
        let neverBegun = await journalErrorCode {
            try await fixture.journal.failStep(job: id, worker: fixture.worker, name: "ghost", error: "x")
        }
        #expect(neverBegun == .invalidArgument)
        #expect(try await fixture.journal.steps(job: id).isEmpty)

        #expect(try await fixture.journal.beginStep(job: id, worker: fixture.worker, name: "done") == nil)
        try await fixture.journal.commitStep(job: id, worker: fixture.worker, name: "done", result: Data())
        let completed = await journalErrorCode {
            try await fixture.journal.failStep(job: id, worker: fixture.worker, name: "done", error: "x")
        }
        #expect(completed == .illegalTransition)

        // Begun by attempt 1, whose worker died; attempt 2 fails it without beginning it.
        #expect(try await fixture.journal.beginStep(job: id, worker: fixture.worker, name: "old") == nil)
        _ = try await fixture.journal.recoverOrphans(of: fixture.worker, by: nil, reason: "worker w1 (pid 4242) died")
        try await fixture.journal.register(WorkerRegistration(id: "w2", pid: 1, host: "t", processStartedAt: nil, version: "t"))
        #expect(try await fixture.journal.claim(ClaimRequest(worker: "w2", limit: 1)).map(\.id) == [id])
        let earlier = await journalErrorCode {
            try await fixture.journal.failStep(job: id, worker: "w2", name: "old", error: "x")
        }
        #expect(earlier == .invalidArgument)
        #expect(try await fixture.journal.steps(job: id).allSatisfy { $0.error == nil })
    }

    @Test func aLongErrorIsCutAtACharacterBoundaryAndSaysHowLongItWas() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let id = try await fixture.enqueue()
        _ = try await fixture.claim()
        #expect(try await fixture.journal.beginStep(job: id, worker: fixture.worker, name: "s") == nil)
        let long = String(repeating: "é", count: 10_000)  // 2 bytes each: no cut at a byte count lands inside one
        try await fixture.journal.failStep(job: id, worker: fixture.worker, name: "s", error: long)
        let error = try #require(try await fixture.journal.steps(job: id).first?.error)
        #expect(error.utf8.count <= StepRecord.errorLimit)
        #expect(error.utf8.count > StepRecord.errorLimit - 40)
        #expect(error.hasSuffix("… (cut: 20000 bytes)"))
        #expect(error.dropLast("… (cut: 20000 bytes)".count).allSatisfy { $0 == "é" })
    }
}
