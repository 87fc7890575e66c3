import Foundation
import PostgresNIO
@testable import PostgresJournal
import WorkerStore
import WorkerTestKit

/// A PostgreSQL journal on a fresh database whose jobs, events, workers and steps are written with SQL, the way
/// the journal writes them: the inspection queries are tested without depending on enqueue or claims.
struct InspectFixture {
    let url: String
    let journal: PostgresJournal

    static func open(_ label: String) async throws -> InspectFixture {
        let url = try await PostgresTestServer.shared.database(label)
        return InspectFixture(url: url, journal: try await PostgresJournal.open(try PostgresLocation(url: url), options: .forTests))
    }

    func close() async { await journal.close() }

    /// The events a job in `state` has when the journal drove it there, as (from, to) pairs.
    static func history(_ state: JobState) -> [(JobState?, JobState)] {
        switch state {
        case .scheduled: [(nil, .scheduled)]
        case .queued: [(nil, .queued)]
        case .cancelled: [(nil, .queued), (.queued, .cancelled)]
        case .running: [(nil, .queued), (.queued, .running)]
        default: [(nil, .queued), (.queued, .running), (.running, state)]
        }
    }

    /// Inserts a job in `state` with its event history, in one statement; returns its id. `runAtOffset` and
    /// `createdAt` are relative to / instead of the server's clock.
    @discardableResult
    func job(
        _ state: JobState = .queued, handler: String = "noop", queue: String = "default", payload: String = "{}",
        lastError: String? = nil, worker: String? = nil, runAtOffset: Int64? = nil, createdAt: Int64? = nil
    ) async throws -> Int64 {
        let history = Self.history(state)
        let from = history.map { $0.0?.rawValue ?? "" }
        let to = history.map { $0.1.rawValue }
        let attempts = history.contains { $0.1 == .running } ? 1 : 0
        // The attempt counts from the claim (the event to running) on.
        let eventAttempts = history.indices.map { index in history[...index].contains { $0.1 == .running } ? 1 : 0 }
        let holder = worker ?? (attempts > 0 ? "w1" : nil)
        let offset = runAtOffset ?? (state == .scheduled ? 60_000_000 : 0)
        let rows = try await journal.rows("""
            WITH job AS (
                INSERT INTO jobs (handler, queue, state, payload, attempts, max_attempts, run_at, created_at, updated_at,
                                  finished_at, worker_id, last_error)
                VALUES (\(handler), \(queue), \(state.rawValue), \(payload), \(attempts), 3, worker_micros() + \(offset),
                        coalesce(\(createdAt)::bigint, worker_micros()), worker_micros(),
                        CASE WHEN \(state.isFinished) THEN worker_micros() END, \(holder), \(lastError))
                RETURNING id
            ), events AS (
                INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker_id, pid, reason)
                SELECT job.id, worker_micros(), nullif(e.from_state, ''), e.to_state, e.attempt, \(holder), 4242, 'test'
                FROM job, unnest(\(from)::text[], \(to)::text[], \(eventAttempts)::int[]) WITH ORDINALITY
                     AS e(from_state, to_state, attempt, n)
                ORDER BY e.n
            )
            SELECT id FROM job
            """)
        return try rows[0].decode(Int64.self)
    }

    /// Registers worker `id` with SQL (stopped when `stopped`); its lock is free until `holdLock` takes it.
    func worker(_ id: String, stopped: Bool = false) async throws {
        try await journal.rows("""
            INSERT INTO workers (id, pid, host, started_at, heartbeat_at, stopped_at, version, server_started_at)
            VALUES (\(id), 4242, 'test', worker_micros(), worker_micros(), CASE WHEN \(stopped) THEN worker_micros() END, 't',
                    (extract(epoch FROM pg_postmaster_start_time()) * 1000000)::bigint)
            """)
    }

    /// Takes worker `id`'s advisory lock on a connection of its own, as its lock session would: the worker is live
    /// until the connection closes.
    func holdLock(_ id: String) async throws -> PostgresConnection {
        let connection = try await Connections.connect(journal.server, journal.options)
        let key = try await journal.rows("SELECT lock_key FROM workers WHERE id = \(id)")[0].decode(Int32.self)
        try await connection.query("SELECT pg_advisory_lock(\(LockKeys.namespace), \(key))", logger: journal.logger)
        return connection
    }

    /// Runs `sql` on the database outside the journal (psql), as an operator or another program would.
    @discardableResult
    func psql(_ sql: String) async throws -> String {
        try await PostgresTestServer.shared.psql(url, sql)
    }
}
