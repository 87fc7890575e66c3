import Foundation
import Testing
import WorkerStore
import WorkerTestKit
@testable import PostgresJournal

/// The PostgreSQL side of what the dashboard records: who asked for a queue's change, and the activity rollup's
/// rows (the round's upsert, the recoverer's row, the week a heartbeat keeps).
@Suite struct DashboardStoreTests {
    @Test func queueEventsRecordWhoAskedForTheChange() async throws {
        let fixture = try await RunFixture("origin")
        let journal = try await fixture.open()
        _ = try await journal.edit(queue: "mail", .pause, by: .dashboard(client: "10.0.0.7"))
        _ = try await journal.resume(queue: "mail")
        #expect(try await fixture.sql("SELECT string_agg(action || ' ' || origin, ',' ORDER BY id) FROM queue_events")
            == "paused dashboard (client 10.0.0.7),resumed operator")
        await closeAll(journal)
    }

    @Test func aRoundAddsToItsWorkersRowAndAHeartbeatDropsRowsOlderThanAWeek() async throws {
        let fixture = try await RunFixture("activity")
        let a = try await fixture.worker("wa")
        _ = try await fixture.sql("""
            INSERT INTO job_activity (minute, worker_id, completed) VALUES
                ((worker_micros() / 60000000 - 8 * 1440) * 60000000, 'gone', 5),
                ((worker_micros() / 60000000 - 6 * 1440) * 60000000, 'gone', 7)
            """)
        for _ in 0..<3 { try await fixture.enqueue(a) }
        let claimed = try await fixture.claim(a, "wa", 3)
        let round = try await a.finishAndClaim(
            finished: [(claimed[0], .completed), (claimed[1], .failed(error: "boom", retryable: false)), (claimed[2], .interrupted(reason: "drain"))],
            claim: ClaimRequest(worker: "wa", limit: 0))
        #expect(round.finished.allSatisfy { (try? $0.get()) != nil })
        let rows = """
            SELECT string_agg(worker_id || ' ' || completed || ' ' || failed || ' ' || interrupted, ',' ORDER BY minute) FROM job_activity
            """
        #expect(try await fixture.sql(rows) == "gone 5 0 0,gone 7 0 0,wa 1 1 1", "a round never deletes")
        try await a.heartbeat(worker: "wa")
        #expect(try await fixture.sql(rows) == "gone 7 0 0,wa 1 1 1", "the 8-day-old row went at the beat; the 6-day-old one stays")
        await closeAll(a)
    }

    @Test func aRecoveryCountsUnderTheRecoverer() async throws {
        let fixture = try await RunFixture("recovered")
        let a = try await fixture.worker("wa")
        let b = try await fixture.worker("wb")
        try await fixture.enqueue(a)
        #expect(try await fixture.claim(a, "wa").count == 1)
        try await fixture.kill("wa")
        _ = try await fixture.recoverOnce(b, by: "wb", "wa")
        #expect(try await fixture.sql("SELECT worker_id || ' ' || failed || ' ' || interrupted FROM job_activity") == "wb 0 1")
        await closeAll(a, b)
    }
}
