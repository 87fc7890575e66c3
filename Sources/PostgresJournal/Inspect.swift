import Foundation
import PostgresNIO
import WorkerStore

extension PostgresJournal {
    /// The job with this id; `jobNotFound` when there is none.
    public func job(_ id: Int64) async throws -> Job {
        let logger = self.logger
        return try await withConnection { connection in try await Job.require(connection, id: id, logger: logger) }
    }

    /// Jobs matching `filter`, by ascending id (descending with `newestFirst`).
    public func jobs(_ filter: JobFilter) async throws -> [Job] {
        try await jobPage(filter).jobs
    }

    /// Jobs matching `filter`, and whether a next page has more: keyset pagination on the index of the filter
    /// (jobs_handler, jobs_queue, jobs_stopped, a state's partial index or the primary key), so a page costs its
    /// size, not its distance from the first. A text search reads at most `filter.scanLimit` jobs: a first
    /// statement finds the last job it may read.
    public func jobPage(_ filter: JobFilter) async throws -> JobPage {
        try filter.checkLimit()
        var bound: Int64?
        if let count = filter.scanBound {
            let ids = try await rows(JobFilterSQL.scanBound(filter, count: count)).map { try $0.decode(Int64.self) }
            bound = ids.count == 2 ? ids[0] : nil
        }
        let rows = try await rows(JobFilterSQL.page(filter, through: bound))
        return JobPage(fetched: try rows.map(Job.init(postgres:)), filter: filter, scannedThrough: bound)
    }

    /// The journal history of a job, oldest first; `jobNotFound` when there is no such job.
    public func events(job id: Int64) async throws -> [JobEvent] {
        let logger = self.logger
        return try await withConnection { connection in
            var events: [JobEvent] = []
            let rows = try await connection.query(
                "SELECT \(unescaped: JobEvent.pgColumns) FROM job_events WHERE job_id = \(id) ORDER BY id", logger: logger)
            for try await row in rows { events.append(try JobEvent(postgres: row)) }
            // Every job has its creation event: only an empty history needs the second look.
            if events.isEmpty { _ = try await Job.require(connection, id: id, logger: logger) }
            return events
        }
    }

    /// The named steps of a job, in the order they began.
    public func steps(job id: Int64) async throws -> [StepRecord] {
        try await rows("""
            SELECT \(unescaped: StepRecord.pgColumns) FROM job_steps WHERE job_id = \(id) ORDER BY started_at, name COLLATE "C"
            """).map(StepRecord.init(postgres:))
    }

    /// The number of jobs in each state, every state present (zero when empty).
    public func stats() async throws -> [JobState: Int] {
        var counts = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0, 0) })
        for row in try await rows("SELECT state, count(*) FROM jobs GROUP BY state") {
            let (name, count) = try row.decode((String, Int).self)
            if let state = JobState(rawValue: name) { counts[state] = count }
        }
        return counts
    }

    /// The schema migrations applied, in order.
    public func appliedMigrations() async throws -> [String] {
        try await PostgresMigrations.applied(self) ?? []
    }
}

extension StepRecord {
    /// The columns `init(postgres:)` reads, for `SELECT \(StepRecord.pgColumns) FROM job_steps ...`.
    static let pgColumns = "job_id, name, attempt, started_at, completed_at, result, failed_at, failed_attempt, error"

    /// Reads a row selected with `pgColumns`.
    init(postgres row: PostgresRow) throws {
        let (jobID, name, attempt, startedAt, completedAt, result, failedAt, failedAttempt, error) = try row.decode(
            (Int64, String, Int, Int64, Int64?, Data?, Int64?, Int?, String?).self)
        self.init(
            jobID: jobID, name: name, attempt: attempt, startedAt: startedAt, completedAt: completedAt, result: result,
            failedAt: failedAt, failedAttempt: failedAttempt, error: error)
    }
}
