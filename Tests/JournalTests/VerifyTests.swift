import Foundation
import GRDB
import Journal
import WorkerStore
import Testing

@Suite struct VerifyTests {
    @Test func aJournalWrittenThroughTheAPIIsSound() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        for state in JobState.allCases where state != .running {
            _ = try await fixture.job(in: state)
        }
        let report = try await fixture.journal.verify()
        #expect(report.isSound, "\(report.findings)")
        #expect(report.jobsChecked == 7)
    }

    @Test func aStateChangedBehindTheJournalsBackIsFound() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let id = try await fixture.enqueue()
        try await DatabaseQueue(path: fixture.journal.path).write { db in
            try db.execute(sql: "UPDATE jobs SET state = 'completed', finished_at = 1 WHERE id = ?", arguments: [id])
        }
        let report = try await fixture.journal.verify()
        #expect(report.findings == ["job \(id) is completed but its last event says queued"])
    }

    @Test func aRunningJobOfADeadWorkerIsFoundAndOneOfALiveWorkerIsNot() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let live = try await fixture.job(in: .running)  // held by w1, registered through the fixture's journal
        let orphan = try await fixture.enqueue()
        do {  // w2 claims the job, then its journal (and its liveness lock) goes: a worker killed mid-job
            let other = try Journal(path: fixture.journal.path)
            try await other.register(WorkerRegistration(id: "w2", pid: 4343, host: "test", processStartedAt: nil, version: "t"))
            #expect(try await other.claim(ClaimRequest(worker: "w2", limit: 1)).map(\.id) == [orphan])
        }
        let findings = try await fixture.journal.verify().findings
        #expect(findings == ["job \(orphan) is running under worker w2, which is dead (its lock is free): the next `worker run` or `worker resume` recovers it"])
        #expect(!findings.contains { $0.contains("job \(live) ") })
    }

    @Test func aRunningJobOfAStoppedWorkerIsFound() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let id = try await fixture.job(in: .running)
        try await DatabaseQueue(path: fixture.journal.path).write { db in
            try db.execute(sql: "UPDATE workers SET stopped_at = 1")
        }
        let findings = try await fixture.journal.verify().findings
        #expect(findings.count == 1)
        #expect(findings.first?.hasPrefix("job \(id) is running under worker w1, which has stopped") == true)
    }

    @Test func eventsCannotBeRewrittenOrDeletedWhileTheirJobExists() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        _ = try await fixture.enqueue()
        let queue = try DatabaseQueue(path: fixture.journal.path)
        #expect(throws: DatabaseError.self) { try queue.write { try $0.execute(sql: "UPDATE job_events SET reason = 'x'") } }
        #expect(throws: DatabaseError.self) { try queue.write { try $0.execute(sql: "DELETE FROM job_events") } }
        try await queue.write { db in
            try db.execute(sql: "DELETE FROM jobs")
            try db.execute(sql: "DELETE FROM job_events")  // pruning a deleted job's history is allowed
        }
    }
}
