import Foundation
import Journal
import WorkerStore
import WorkerTestKit
import Testing

@Suite struct CheckpointAndStepTests {
    @Test func theLastCheckpointIsKeptAndHandedBackOnResume() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let id = try await fixture.enqueue("sleep", payload: #"{"ms": 1000}"#)
        _ = try await fixture.claim()
        try await fixture.journal.checkpoint(job: id, worker: fixture.worker, data: Data(#"{"elapsed":100}"#.utf8))
        try await fixture.journal.checkpoint(job: id, worker: fixture.worker, data: Data(#"{"elapsed":200}"#.utf8))
        let interrupted = try await fixture.journal.finish(job: id, worker: fixture.worker, outcome: .interrupted(reason: "deadline"))
        #expect(interrupted.state == .interrupted)
        #expect(interrupted.attempts == 0)  // a graceful interruption gives the attempt back
        let resumed = try await fixture.journal.claim(ClaimRequest(worker: fixture.worker, limit: 1))
        #expect(resumed.map(\.id) == [id])
        #expect(resumed.first?.checkpoint == Data(#"{"elapsed":200}"#.utf8))
        #expect(resumed.first?.attempts == 1)
    }

    @Test func aCompletedStepIsAnsweredFromTheJournalOnTheNextAttempt() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let id = try await fixture.enqueue("append")
        _ = try await fixture.claim()
        #expect(try await fixture.journal.beginStep(job: id, worker: fixture.worker, name: "line-1") == nil)
        try await fixture.journal.commitStep(job: id, worker: fixture.worker, name: "line-1", result: Data("ok-1".utf8))
        #expect(try await fixture.journal.beginStep(job: id, worker: fixture.worker, name: "line-2") == nil)
        // The worker dies inside line-2.
        _ = try await fixture.journal.recoverOrphans(of: fixture.worker, by: nil, reason: "worker w1 (pid 4242) died")
        try await fixture.journal.register(WorkerRegistration(id: "w2", pid: 1, host: "t", processStartedAt: nil, version: "t"))
        _ = try await fixture.journal.claim(ClaimRequest(worker: "w2", limit: 1))
        let one = try await fixture.journal.beginStep(job: id, worker: "w2", name: "line-1")
        #expect(one?.result == Data("ok-1".utf8))
        #expect(one?.completedAt != nil)
        #expect(try await fixture.journal.beginStep(job: id, worker: "w2", name: "line-2") == nil)  // in flight: runs again
        let steps = try await fixture.journal.steps(job: id)
        #expect(steps.map(\.name) == ["line-1", "line-2"])
        #expect(steps[1].completedAt == nil)
        #expect(steps[1].attempt == 2)
        let code = await journalErrorCode {
            try await fixture.journal.commitStep(job: id, worker: "w2", name: "line-1", result: Data())
        }
        #expect(code == .illegalTransition)
    }

    @Test func aWorkerThatLostItsJobCannotWriteToIt() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let id = try await fixture.enqueue()
        _ = try await fixture.claim()
        _ = try await fixture.journal.recoverOrphans(of: fixture.worker, by: "w9", reason: "presumed dead")
        for write in [
            { try await fixture.journal.checkpoint(job: id, worker: fixture.worker, data: Data("x".utf8)) },
            { _ = try await fixture.journal.beginStep(job: id, worker: fixture.worker, name: "s") },
            { _ = try await fixture.journal.finish(job: id, worker: fixture.worker, outcome: .completed) },
        ] as [@Sendable () async throws -> Void] {
            #expect(await journalErrorCode(write) == .notHeld)
        }
        #expect(try await fixture.journal.job(id).state == .interrupted)
    }

    @Test func orphansCountTheAttemptAndAPoisonJobEndsDead() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let id = try await fixture.enqueue("crash")
        for death in 1...3 {
            let worker = "w-\(death)"
            try await fixture.journal.register(WorkerRegistration(id: worker, pid: Int32(death), host: "t", processStartedAt: nil, version: "t"))
            #expect(try await fixture.journal.claim(ClaimRequest(worker: worker, limit: 1)).map(\.id) == [id])
            let recovered = try await fixture.journal.recoverOrphans(
                of: worker, by: nil, reason: "worker \(worker) (pid \(death)) died", maxCrashes: 3)
            #expect(recovered.map(\.id) == [id])
            #expect(recovered[0].crashes == death)
            #expect(recovered[0].attempts == death)
            #expect(recovered[0].state == (death < 3 ? .interrupted : .dead))
        }
        let job = try await fixture.journal.job(id)
        #expect(job.lastError?.contains("poison") == true)
        #expect(try await fixture.journal.liveWorkers().map(\.registration.id) == [fixture.worker])
        #expect(try await fixture.journal.verify().isSound)
    }
}
