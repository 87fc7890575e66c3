import Foundation
import PostgresNIO
@testable import PostgresJournal
import WorkerStore
import WorkerTestKit

/// A PostgreSQL journal on a fresh database, for the operator commands' tests. Claims and outcomes are another
/// part of the store: `job(in:)` puts a job in a state with plain SQL (and an event saying so) instead.
struct OpsFixture {
    let url: String
    let location: PostgresLocation
    let journal: PostgresJournal

    init(_ label: String, _ adjust: (inout PostgresJournalOptions) -> Void = { _ in }) async throws {
        url = try await PostgresTestServer.shared.database(label)
        location = try PostgresLocation(url: url)
        var options = PostgresJournalOptions.forTests
        adjust(&options)
        journal = try await PostgresJournal.open(location, options: options)
    }

    func close() async { await journal.close() }

    /// Runs SQL with psql; its unaligned output.
    @discardableResult
    func sql(_ text: String) async throws -> String {
        try await PostgresTestServer.shared.psql(url, text)
    }

    func count(_ condition: String = "true") async throws -> Int {
        Int(try await sql("SELECT count(*) FROM jobs WHERE \(condition)")) ?? -1
    }

    func job(_ id: Int64) async throws -> Job {
        let logger = journal.logger
        return try await journal.withConnection { connection in try await Job.require(connection, id: id, logger: logger) }
    }

    func exists(_ id: Int64) async throws -> Bool {
        try await count("id = \(id)") == 1
    }

    func events(_ id: Int64) async throws -> [JobEvent] {
        let rows = try await journal.rows("SELECT \(unescaped: JobEvent.pgColumns) FROM job_events WHERE job_id = \(id) ORDER BY id")
        return try rows.map(JobEvent.init(postgres:))
    }

    /// The server's clock.
    func now() async throws -> Micros {
        Micros(try await sql("SELECT worker_micros()"))!
    }

    func enqueue(_ handler: String = "noop", queue: String = "default", runAt: Micros? = nil, key: String? = nil) async throws -> Int64 {
        try await journal.enqueue(NewJob(handler: handler, queue: queue, runAt: runAt, uniqueKey: key)).job.id
    }

    /// A job put into `state`: through the API where it is an operator's (enqueue, cancel), with SQL where a
    /// worker would (claims and outcomes).
    func job(in state: JobState, handler: String = "noop", key: String? = nil) async throws -> Int64 {
        switch state {
        case .scheduled:
            return try await enqueue(handler, runAt: try await now() + 3_600_000_000, key: key)
        case .queued:
            return try await enqueue(handler, key: key)
        case .cancelled:
            let id = try await enqueue(handler, key: key)
            _ = try await journal.cancel(job: id)
            return id
        default:
            let id = try await enqueue(handler, key: key)
            try await drive(id, to: state)
            return id
        }
    }

    /// Moves a job as a worker would (claimed, then finished as `state` says), with its events.
    func drive(_ id: Int64, to state: JobState) async throws {
        let finished = state.isFinished ? "worker_micros()" : "NULL"
        let error = state == .dead || state == .retrying ? "'boom'" : "NULL"
        try await sql("""
            UPDATE jobs SET state = '\(state.rawValue)', attempts = 1, worker_id = 'w1', updated_at = worker_micros(),
                finished_at = \(finished), last_error = \(error) WHERE id = \(id);
            INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker_id, pid, reason)
            VALUES (\(id), worker_micros(), 'queued', 'running', 1, 'w1', 1, 'claimed by the test');
            INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker_id, pid, reason)
            SELECT \(id), worker_micros(), 'running', '\(state.rawValue)', 1, 'w1', 1, 'moved by the test' WHERE '\(state.rawValue)' <> 'running'
            """)
    }

    /// A connection of the test's own, as an application holds one.
    func connection() async throws -> PostgresConnection {
        try await Connections.connect(location, journal.options)
    }
}
