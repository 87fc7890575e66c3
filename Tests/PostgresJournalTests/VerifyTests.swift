import Foundation
import PostgresNIO
@testable import PostgresJournal
import Testing
import WorkerStore
import WorkerTestKit

/// `journal verify` on PostgreSQL: the consistency checks of the SQLite journal's verify, with liveness read from
/// the workers' advisory locks, and what a program writing behind the journal's back can break.
@Suite(.serialized) struct PostgresVerifyTests {
    @Test func aJournalWrittenAsTheWorkerWritesItIsSound() async throws {
        let fixture = try await InspectFixture.open("sound")
        try await fixture.worker("w1")
        let lock = try await fixture.holdLock("w1")
        for state in JobState.allCases { try await fixture.job(state, worker: state == .running ? "w1" : nil) }
        let report = try await fixture.journal.verify(maxFindings: 1000)
        #expect(report.isSound, "\(report.findings)")
        #expect(report.jobsChecked == 8)
        #expect(report.eventsChecked == JobState.allCases.map { InspectFixture.history($0).count }.reduce(0, +))
        await lock.closeNow()
        await fixture.close()
    }

    @Test func aStateChangedBehindTheJournalsBackIsFound() async throws {
        let fixture = try await InspectFixture.open("behind")
        let id = try await fixture.job(.queued)
        try await fixture.psql("UPDATE jobs SET state = 'completed', finished_at = 1 WHERE id = \(id)")
        let report = try await fixture.journal.verify(maxFindings: 1000)
        #expect(report.findings == ["job \(id) is completed but its last event says queued"])
        await fixture.close()
    }

    @Test func runningJobsOfDeadStoppedUnregisteredOrNoWorkersAreFound() async throws {
        let fixture = try await InspectFixture.open("orphans")
        try await fixture.worker("live")
        try await fixture.worker("dead")
        try await fixture.worker("stopped", stopped: true)
        let lock = try await fixture.holdLock("live")
        let live = try await fixture.job(.running, worker: "live")
        let orphan = try await fixture.job(.running, worker: "dead")
        let stopped = try await fixture.job(.running, worker: "stopped")
        let stranger = try await fixture.job(.running, worker: "nobody")
        let nameless = try await fixture.job(.running)
        try await fixture.psql("UPDATE jobs SET worker_id = NULL WHERE id = \(nameless)")
        let findings = try await fixture.journal.verify(maxFindings: 1000).findings
        #expect(findings == [
            "job \(orphan) is running under worker dead, which is dead (its lock is free): the next `worker run` or `worker resume` recovers it",
            "job \(stopped) is running under worker stopped, which has stopped: run `worker resume` to recover it",
            "job \(stranger) is running under worker nobody, which is not registered",
            "job \(nameless) is running but names no worker",
        ])
        #expect(!findings.contains { $0.contains("job \(live) ") })
        // The live worker's session ends: its job is found too.
        await lock.closeNow()
        var again = try await fixture.journal.verify(maxFindings: 1000).findings
        for _ in 0..<600 where again.count == findings.count {
            try await Task.sleep(for: .milliseconds(50))
            again = try await fixture.journal.verify(maxFindings: 1000).findings
        }
        #expect(again.first == "job \(live) is running under worker live, which is dead (its lock is free): the next `worker run` or `worker resume` recovers it")
        await fixture.close()
    }

    @Test func brokenChainsIllegalTransitionsAndUnknownStatesAreFound() async throws {
        let fixture = try await InspectFixture.open("chains")
        let broken = try await fixture.job(.queued)
        let illegal = try await fixture.job(.queued)
        let unknown = try await fixture.job(.queued)
        let bare = try await fixture.job(.queued)
        func event(_ job: Int64, _ from: String?, _ to: String) -> String {
            "INSERT INTO job_events (job_id, at, from_state, to_state, attempt, pid, reason) VALUES (\(job), 1, \(from.map { "'\($0)'" } ?? "NULL"), '\(to)', 0, 1, 'x');"
        }
        try await fixture.psql(
            event(broken, "running", "completed") + "UPDATE jobs SET state = 'completed', finished_at = 1 WHERE id = \(broken);"
                + event(illegal, "queued", "completed") + "UPDATE jobs SET state = 'completed', finished_at = 1 WHERE id = \(illegal);"
                + event(unknown, "queued", "paused") + "DELETE FROM jobs WHERE id = \(bare); DELETE FROM job_events WHERE job_id = \(bare);"
                + "INSERT INTO jobs (id, handler, state, payload, max_attempts, run_at, created_at, updated_at) OVERRIDING SYSTEM VALUE VALUES (\(bare), 'h', 'queued', '{}', 3, 1, 1, 1);")
        let events = try await fixture.journal.rows("SELECT id FROM job_events WHERE job_id = ANY(\([broken, illegal, unknown])) ORDER BY id")
            .map { try $0.decode(Int64.self) }
        let findings = try await fixture.journal.verify(maxFindings: 1000).findings
        #expect(findings == [
            "job \(broken) event \(events[3]) goes from running but the previous event ended in queued",
            "job \(illegal) event \(events[4]) records an illegal transition queued -> completed",
            "job \(unknown) event \(events[5]) has an unknown state (queued -> paused)",
            "job \(unknown) is queued but its last event says paused",
            "job \(bare) has no journal events",
        ])
        // At most maxFindings lines; the same findings when the chains are walked a few jobs per statement.
        #expect(try await fixture.journal.verify(maxFindings: 2).findings == Array(findings.prefix(2)))
        for range in [1, 2, 3] as [Int64] {
            #expect(try await fixture.journal.verify(maxFindings: 1000, range: range).findings == findings)
            #expect(try await fixture.journal.verify(maxFindings: 3, range: range).findings == Array(findings.prefix(3)))
        }
        await fixture.close()
    }

    @Test func recordsOfMissingJobsAndInconsistentCountsAreFound() async throws {
        let fixture = try await InspectFixture.open("missing")
        let kept = try await fixture.job(.queued)
        try await fixture.psql("""
            INSERT INTO job_events (job_id, at, to_state, attempt, pid, reason) VALUES (9001, 1, 'queued', 0, 1, 'x'), (9001, 2, 'queued', 0, 1, 'x');
            INSERT INTO job_checkpoints (job_id, data, attempt, updated_at) VALUES (9002, '\\x00', 1, 1);
            INSERT INTO job_steps (job_id, name, attempt, started_at) VALUES (9003, 'a', 1, 1), (9003, 'b', 1, 1);
            UPDATE jobs SET attempts = 9 WHERE id = \(kept);
            """)
        let first = try await fixture.journal.rows("SELECT min(id) FROM job_events WHERE job_id = 9001")[0].decode(Int64.self)
        let findings = try await fixture.journal.verify(maxFindings: 1000).findings
        #expect(findings == [
            "2 event(s) from event \(first) on name job 9001, which does not exist: a program enqueued without following docs/journal.md (its event must be written only for a row it inserted)",
            "job \(kept) (queued) has inconsistent attempts or finish time",
            "1 checkpoint record(s) name job 9002, which does not exist: they were left by a deletion outside the worker; delete them",
            "2 step record(s) name job 9003, which does not exist: they were left by a deletion outside the worker; delete them",
        ])
        await fixture.close()
    }

    @Test func aMissingSchemaObjectIsTheFinding() async throws {
        let fixture = try await InspectFixture.open("schema")
        try await fixture.job(.queued)
        try await fixture.psql("DROP INDEX jobs_handler; DROP TRIGGER job_events_append_only ON job_events")
        let report = try await fixture.journal.verify(maxFindings: 1000)
        #expect(report.findings == [
            "the journal's index jobs_handler is missing (the schema was changed outside the worker): restore the database from a backup",
            "the journal's trigger job_events_append_only is missing (the schema was changed outside the worker): restore the database from a backup",
        ])
        #expect(report.integrityErrors.isEmpty)
        await fixture.close()
    }

    @Test func eventsCannotBeRewrittenOrDeletedWhileTheirJobExists() async throws {
        let fixture = try await InspectFixture.open("appendonly")
        try await fixture.job(.queued)
        await #expect(throws: (any Error).self) { try await fixture.psql("UPDATE job_events SET reason = 'x'") }
        await #expect(throws: (any Error).self) { try await fixture.psql("DELETE FROM job_events") }
        try await fixture.psql("DELETE FROM jobs; DELETE FROM job_events")  // pruning a deleted job's history is allowed
        #expect(try await fixture.psql("SELECT count(*) FROM job_events") == "0")
        await fixture.close()
    }
}
