import Foundation
@testable import PostgresJournal
import Testing
import WorkerStore
import WorkerTestKit

@Suite struct PGPruneTests {
    /// A job completed with a checkpoint and a step, finished `ago` microseconds before the server's now.
    func completedJob(_ fixture: OpsFixture, key: String? = nil, ago: Micros) async throws -> Int64 {
        let id = try await fixture.job(in: .completed, handler: "prunable", key: key)
        try await fixture.sql("""
            UPDATE jobs SET finished_at = worker_micros() - \(ago) WHERE id = \(id);
            INSERT INTO job_checkpoints (job_id, data, attempt, updated_at) VALUES (\(id), '\\x7b7d', 1, worker_micros());
            INSERT INTO job_steps (job_id, name, attempt, started_at, completed_at, result) VALUES (\(id), 'one', 1, 1, 2, '\\x');
            """)
        return id
    }

    @Test func onlyCompletedJobsOlderThanTheCutoffGoWithTheirHistory() async throws {
        let fixture = try await OpsFixture("prune")
        let hour: Micros = 3_600_000_000
        let old = [try await completedJob(fixture, key: "k", ago: 2 * hour), try await completedJob(fixture, ago: 2 * hour)]
        let oldDead = try await fixture.job(in: .dead)
        let oldCancelled = try await fixture.job(in: .cancelled)
        try await fixture.sql("UPDATE jobs SET finished_at = finished_at - \(2 * hour) WHERE id IN (\(oldDead), \(oldCancelled))")
        let recent = try await completedJob(fixture, ago: 0)
        var unfinished: [Int64] = []
        for state in [JobState.queued, .running, .retrying, .interrupted, .scheduled] {
            unfinished.append(try await fixture.job(in: state))
        }
        let cutoff = try await fixture.now() - hour
        #expect(try await fixture.journal.completedCount(finishedBefore: cutoff) == 2)

        #expect(try await fixture.journal.pruneCompleted(finishedBefore: cutoff, limit: 1) == 1)  // a batch at a time
        #expect(try await fixture.journal.pruneCompleted(finishedBefore: cutoff, limit: 1) == 1)
        #expect(try await fixture.journal.pruneCompleted(finishedBefore: cutoff, limit: 1) == 0)
        #expect(try await fixture.journal.completedCount(finishedBefore: cutoff) == 0)

        for id in old {
            #expect(try await fixture.exists(id) == false)
            for table in ["job_events", "job_checkpoints", "job_steps"] {
                #expect(try await fixture.sql("SELECT count(*) FROM \(table) WHERE job_id = \(id)") == "0")
            }
        }
        for id in [oldDead, oldCancelled, recent] + unfinished {
            #expect(try await fixture.exists(id))  // dead and cancelled stay for inspection
            #expect(try await fixture.events(id).isEmpty == false)
        }
        #expect(try await fixture.sql("SELECT count(*) FROM job_steps WHERE job_id = \(recent)") == "1")
        // Ids are never reused, and a pruned job's key is free.
        let next = try await fixture.journal.enqueue(NewJob(handler: "prunable", uniqueKey: "k"))
        #expect(next.created && next.job.id > unfinished.max()!)
        await fixture.close()
    }

    @Test func aBadLimitIsRefused() async throws {
        let fixture = try await OpsFixture("prune")
        #expect(await journalErrorCode { _ = try await fixture.journal.pruneCompleted(finishedBefore: 0, limit: 0) } == .invalidArgument)
        await fixture.close()
    }
}
