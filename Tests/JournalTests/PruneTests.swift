import WorkerTestKit
import Foundation
import Journal
import WorkerStore
import Testing

@Suite struct PruneTests {
    /// A job claimed, checkpointed, stepped and completed now.
    func completedJob(_ fixture: Fixture, key: String? = nil) async throws -> Int64 {
        let id = try await fixture.enqueue("prunable", key: key)
        #expect(try await fixture.claim(1, handlers: ["prunable"]) == [id])
        try await fixture.journal.checkpoint(job: id, worker: fixture.worker, data: Data("{}".utf8))
        _ = try await fixture.journal.beginStep(job: id, worker: fixture.worker, name: "one")
        try await fixture.journal.commitStep(job: id, worker: fixture.worker, name: "one", result: Data())
        _ = try await fixture.journal.finish(job: id, worker: fixture.worker, outcome: .completed)
        return id
    }

    @Test func onlyCompletedJobsOlderThanTheCutoffGoWithTheirHistory() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let old = [try await completedJob(fixture, key: "k"), try await completedJob(fixture)]
        let oldDead = try await fixture.job(in: .dead)
        let oldCancelled = try await fixture.job(in: .cancelled)
        fixture.clock.advance(seconds: 7200)  // two hours later
        let cutoff = fixture.clock.now - 3600_000_000
        let recent = try await completedJob(fixture)
        let unfinished = [
            try await fixture.job(in: .queued), try await fixture.job(in: .running), try await fixture.job(in: .retrying),
            try await fixture.job(in: .interrupted), try await fixture.job(in: .scheduled),
        ]
        #expect(try await fixture.journal.completedCount(finishedBefore: cutoff) == 2)

        #expect(try await fixture.journal.pruneCompleted(finishedBefore: cutoff, limit: 1) == 1)  // a batch at a time
        #expect(try await fixture.journal.pruneCompleted(finishedBefore: cutoff, limit: 1) == 1)
        #expect(try await fixture.journal.pruneCompleted(finishedBefore: cutoff, limit: 1) == 0)

        for id in old {
            #expect(await journalErrorCode { _ = try await fixture.journal.job(id) } == .jobNotFound)
            #expect(try await fixture.journal.steps(job: id).isEmpty)
        }
        for id in [oldDead, oldCancelled, recent] + unfinished {
            _ = try await fixture.journal.job(id)  // kept: dead and cancelled stay for inspection
            #expect(try await fixture.journal.events(job: id).isEmpty == false)
        }
        #expect(try await fixture.journal.steps(job: recent).count == 1)
        let report = try await fixture.journal.verify()
        #expect(report.isSound, "\(report.findings)")
        // Ids are never reused, and a pruned job's key is free.
        let next = try await fixture.enqueue("prunable", key: "k")
        #expect(next > unfinished.max()!)
    }

    @Test func aBadLimitIsRefused() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        #expect(await journalErrorCode { _ = try await fixture.journal.pruneCompleted(finishedBefore: 0, limit: 0) } == .invalidArgument)
    }
}
