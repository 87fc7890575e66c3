import Foundation
import Logging
@testable import PostgresJournal
import PostgresNIO
import Testing
import WorkerStore
import WorkerTestKit

/// A fresh database with journals that act as separate worker processes (each has its own pool), for the tests of
/// the worker side: registration, claims, outcomes, recovery, checkpoints, steps and wake-ups. Jobs are written
/// with SQL here (enqueue is tested on its own).
struct RunFixture {
    let url: String
    let location: PostgresLocation

    /// A database on `server` (default: the shared one; a test that freezes a backend uses a server of its own).
    init(_ label: String, server: PostgresTestServer = .shared) async throws {
        url = try await server.database(label)
        location = try PostgresLocation(url: url)
    }

    /// A journal of its own, as another process would open it; `random` 0.5 makes retry delays exact.
    func open(poolSize: Int = 3, retryPolicy: RetryPolicy = .default) async throws -> PostgresJournal {
        var options = PostgresJournalOptions.forTests
        options.retryPolicy = retryPolicy
        options.poolSize = poolSize
        options.random = { 0.5 }
        options.pid = 4242
        return try await PostgresJournal.open(location, options: options)
    }

    /// Opens a journal and registers `worker` through it.
    func worker(_ worker: String, handlers: [String] = [], retryPolicy: RetryPolicy = .default) async throws -> PostgresJournal {
        let journal = try await open(retryPolicy: retryPolicy)
        try await journal.register(WorkerRegistration(id: worker, pid: 4242, host: "test", processStartedAt: nil, version: "t", handlers: handlers))
        return journal
    }

    /// Inserts a job as enqueue would (with its creation event); `runAtOffset` seconds from the server's now.
    @discardableResult
    func enqueue(
        _ journal: PostgresJournal, _ handler: String = "noop", queue: String = "default", priority: Int = 0,
        runAtOffset: Double = 0, maxAttempts: Int = 25, notify: Bool = false
    ) async throws -> Int64 {
        let offset = Int64(runAtOffset * 1_000_000)
        let rows = try await journal.rows("""
            WITH t AS (SELECT worker_micros() AS now),
            job AS (INSERT INTO jobs (handler, queue, state, priority, payload, max_attempts, run_at, created_at, updated_at)
                    SELECT \(handler), \(queue), CASE WHEN \(offset) > 0 THEN 'scheduled' ELSE 'queued' END, \(priority), '{}',
                           \(maxAttempts), t.now + \(offset), t.now, t.now FROM t RETURNING id, state),
            event AS (INSERT INTO job_events (job_id, at, from_state, to_state, attempt, pid, reason)
                      SELECT id, (SELECT now FROM t), NULL, state, 0, 1, 'enqueued' FROM job)
            SELECT id FROM job
            """)
        let id = try rows[0].decode(Int64.self)
        if notify { try await journal.rows("SELECT 1 FROM (SELECT pg_notify('worker_jobs', \(queue))) AS n") }
        return id
    }

    /// Claims through `finishAndClaim` with nothing finished.
    func claim(_ journal: PostgresJournal, _ worker: String, _ limit: Int = 1, queues: [String] = [], handlers: [String]? = nil) async throws -> [Int64] {
        try await journal.finishAndClaim(finished: [], claim: ClaimRequest(worker: worker, limit: limit, queues: queues, handlers: handlers)).claimed.map(\.id)
    }

    /// Records one outcome, throwing the fence's error.
    @discardableResult
    func finish(_ journal: PostgresJournal, _ id: Int64, _ worker: String, _ outcome: JobOutcome) async throws -> JobState {
        try await journal.finish(batch: [(id, outcome)], worker: worker)[0].get()
    }

    func job(_ journal: PostgresJournal, _ id: Int64) async throws -> Job {
        try await journal.withConnection { connection in try await Job.require(connection, id: id, logger: journal.logger) }
    }

    func events(_ journal: PostgresJournal, _ id: Int64) async throws -> [JobEvent] {
        try await journal.rows("SELECT \(unescaped: JobEvent.pgColumns) FROM job_events WHERE job_id = \(id) ORDER BY id")
            .map(JobEvent.init(postgres:))
    }

    /// One value of SQL run on the database.
    func sql(_ text: String) async throws -> String {
        try await PostgresTestServer.shared.psql(url, text)
    }

    /// Ends the lock session of `worker` from the server side, as a crash of its process or a cut link that the
    /// server gave up on would.
    func kill(_ worker: String) async throws {
        let ended = try await sql("""
            SELECT count(*) FILTER (WHERE pg_terminate_backend(pid)) FROM pg_stat_activity
            WHERE application_name = '\(LockSession.applicationName(worker))' AND datname = current_database()
            """)
        #expect(ended == "1", "no lock session of \(worker) to end")
    }

    /// Recovers through `journal` until `worker` is recovered (the server frees a killed session's lock a moment
    /// after the terminate request returns); fails after 20 s.
    func recoverOnce(_ journal: PostgresJournal, by recoverer: String?, _ worker: String, maxCrashes: Int = 3) async throws -> RecoveredWorker {
        for _ in 0..<200 {
            if let found = try await journal.recoverDeadWorkers(recoverer: recoverer, maxCrashes: maxCrashes).first(where: { $0.worker == worker }) {
                return found
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw JournalError(.internalError, "worker \(worker) was never recovered")
    }

    /// Waits until `condition` holds; fails after 20 s.
    func eventually(_ what: String, _ condition: () async throws -> Bool) async throws {
        for _ in 0..<200 {
            if try await condition() { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        Issue.record("never happened: \(what)")
    }
}

/// Closes journals at the end of a test.
func closeAll(_ journals: PostgresJournal...) async {
    for journal in journals {
        await journal.closeLockSessions()
        await journal.close()
    }
}

extension PostgresConnection {
    /// Runs `sql` (constant text of the test's own) and waits for it.
    func run(_ sql: String) async throws {
        _ = try await query(PostgresQuery(unsafeSQL: sql), logger: Logger(label: "test")).collect()
    }
}

extension PostgresJournalOptions {
    /// The defaults, with patience for a loaded machine where dozens of tests connect and write at once.
    static var forTests: PostgresJournalOptions {
        var options = PostgresJournalOptions()
        options.connectTimeout = .seconds(60)
        options.statementTimeout = .seconds(120)
        return options
    }
}
