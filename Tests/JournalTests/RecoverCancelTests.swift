import Journal
import WorkerStore
import Testing

@Suite struct RecoverCancelTests {
    @Test func aCancelAskedForBeforeItsWorkerDiedIsHonouredAtRecovery() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let asked = try await fixture.job(in: .running)
        let other = try await fixture.job(in: .running)
        _ = try await fixture.journal.cancel(job: asked)  // the worker would act on it at its next heartbeat
        #expect(try await fixture.journal.job(asked).state == .running)
        let recovered = try await fixture.journal.recoverOrphans(of: fixture.worker, by: nil, reason: "worker w1 died")
        #expect(Set(recovered.map(\.id)) == [asked, other])
        let cancelled = try await fixture.journal.job(asked)
        #expect(cancelled.state == .cancelled)
        #expect(cancelled.finishedAt != nil)
        #expect(try await fixture.journal.events(job: asked).last?.reason.contains("asked to cancel") == true)
        #expect(try await fixture.journal.job(other).state == .interrupted)  // no cancel asked: it resumes
        #expect(try await fixture.journal.verify().isSound)
    }
}
