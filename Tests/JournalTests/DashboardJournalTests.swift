import Foundation
import GRDB
import Journal
import Synchronization
import Testing
import WorkerStore
import WorkerTestKit

/// The SQLite side of what the dashboard records: who asked for a queue's change, and the activity rollup's rows
/// (one upsert a round, the recoverer's row, the week it keeps).
@Suite struct DashboardJournalTests {
    private func rows(_ fixture: Fixture, _ sql: String) throws -> [Row] {
        try DatabaseQueue(path: fixture.directory.file("worker.sqlite3")).read { db in try Row.fetchAll(db, sql: sql) }
    }

    @Test func queueEventsRecordWhoAskedForTheChange() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        _ = try await fixture.journal.edit(queue: "mail", .pause, by: .dashboard(client: "10.0.0.7"))
        _ = try await fixture.journal.resume(queue: "mail")
        let origins = try rows(fixture, "SELECT action, origin FROM queue_events ORDER BY id").map { "\($0[0] as String) \($0[1] as String)" }
        #expect(origins == ["paused dashboard (client 10.0.0.7)", "resumed operator"])
    }

    @Test func aRoundAddsToItsRowOfTheMinuteWithOneStatement() async throws {
        let statements = Mutex<[String]>([])
        let fixture = try await Fixture { options in
            options.statementObserver = { sql in statements.withLock { $0.append(sql) } }
        }
        defer { fixture.remove() }
        for _ in 0..<4 { _ = try await fixture.enqueue() }
        let claimed = try await fixture.claim(4)
        statements.withLock { $0.removeAll() }
        let outcomes: [JobOutcome] = [.completed, .completed, .failed(error: "boom"), .interrupted(reason: "drain")]
        _ = try await fixture.journal.finishAndClaim(
            finished: Array(zip(claimed, outcomes)).map { ($0, $1) }, claim: ClaimRequest(worker: fixture.worker, limit: 1))
        #expect(statements.withLock { $0 }.filter { $0.contains("job_activity") }.count == 1, "one upsert for the round's four outcomes")
        let minute = fixture.clock.now - fixture.clock.now % 60_000_000
        let row = try #require(try rows(fixture, "SELECT minute, worker_id, completed, failed, interrupted FROM job_activity").first)
        #expect(row[0] as Int64 == minute && row[1] as String == fixture.worker)
        #expect([row[2], row[3], row[4]] as [Int] == [2, 1, 1])
        statements.withLock { $0.removeAll() }
        _ = try await fixture.journal.finishAndClaim(finished: [], claim: ClaimRequest(worker: fixture.worker, limit: 1))
        #expect(statements.withLock { $0 }.filter { $0.contains("job_activity") }.isEmpty, "a round that recorded nothing writes nothing")
    }

    @Test func rowsOlderThanAWeekGoAtAHeartbeat() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        let first = try await fixture.job(in: .completed)
        fixture.clock.advance(seconds: 3 * 86_400)
        _ = try await fixture.job(in: .dead)
        fixture.clock.advance(seconds: 5 * 86_400)  // the first row is now 8 days old, the second 5
        _ = try await fixture.job(in: .interrupted)
        #expect(try await fixture.journal.activity(since: 0).count == 3, "rounds never delete")
        try await fixture.journal.heartbeat(worker: fixture.worker)
        let minutes = try await fixture.journal.activity(since: 0)
        #expect(minutes.map { [$0.completed, $0.failed, $0.interrupted] } == [[0, 1, 0], [0, 0, 1]])
        #expect(try await fixture.journal.job(first).state == .completed, "the rollup goes, the jobs stay")
    }

    @Test func aRecoveryCountsUnderTheRecovererOrAsRecovery() async throws {
        let fixture = try await Fixture()
        defer { fixture.remove() }
        _ = try await fixture.enqueue()
        _ = try await fixture.enqueue()
        #expect(try await fixture.claim(2).count == 2)
        let recovered = try await fixture.journal.recoverOrphans(of: fixture.worker, by: nil, reason: "worker w1 died", maxCrashes: 1)
        #expect(recovered.map(\.state) == [.dead, .dead])
        try await fixture.journal.register(WorkerRegistration(id: "w2", pid: 4243, host: "test", processStartedAt: nil, version: "t"))
        _ = try await fixture.journal.retry(job: recovered[0].id)
        let claimed = try await fixture.journal.finishAndClaim(finished: [], claim: ClaimRequest(worker: "w2", limit: 1)).claimed
        try #require(claimed.count == 1)
        _ = try await fixture.journal.recoverOrphans(of: "w2", by: "w9", reason: "worker w2 died")
        let byWorker = try rows(fixture, "SELECT worker_id, failed, interrupted FROM job_activity ORDER BY worker_id")
            .map { "\($0[0] as String) \($0[1] as Int) \($0[2] as Int)" }
        #expect(byWorker == ["recovery 2 0", "w9 0 1"])
    }
}
