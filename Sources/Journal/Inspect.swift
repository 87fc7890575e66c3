import WorkerStore
import GRDB

extension JobFilter {
    /// The selecting terms (not the cursor, order or limit), ANDed, each on `jobs.` columns. Equality on handler,
    /// queue, schedule or a state keeps to an index (0005_job_lookup_indexes, jobs_schedule of 0008, the partial
    /// state indexes); the time and the
    /// text only filter the rows those select.
    func terms() -> (sql: [String], arguments: StatementArguments) {
        var sql: [String] = []
        var arguments: StatementArguments = []
        if let state {
            sql.append("jobs.state = ?")
            arguments += [state.rawValue]
        }
        if let handler {
            sql.append("jobs.handler = ?")
            arguments += [handler]
        }
        if let queue {
            sql.append("jobs.queue = ?")
            arguments += [queue]
        }
        if let schedule {
            sql.append("jobs.schedule = ?")
            arguments += [schedule]
        }
        if let createdSince {
            sql.append("jobs.created_at >= ?")
            arguments += [createdSince]
        }
        if let search {
            // instr, not LIKE: the text is matched as it is, `%` and `_` included.
            sql.append("(instr(jobs.payload, ?) > 0 OR instr(jobs.last_error, ?) > 0)")
            arguments += [search, search]
        }
        return (sql, arguments)
    }

    /// The query of a page: one row more than `limit`, to tell whether another page follows.
    func pageQuery() -> (sql: String, arguments: StatementArguments) {
        var (conditions, arguments) = terms()
        if let after {
            conditions.append(newestFirst ? "jobs.id < ?" : "jobs.id > ?")
            arguments += [after]
        }
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        arguments += [fetchLimit]
        return (
            "SELECT \(Job.columns) FROM \(Job.from)\(whereClause) ORDER BY jobs.id\(newestFirst ? " DESC" : "") LIMIT ?",
            arguments
        )
    }
}

extension Journal {
    /// The job with this id; `jobNotFound` when there is none.
    public func job(_ id: Int64) async throws -> Job {
        try await read { db in try Job.require(db, id: id) }
    }

    /// Jobs matching `filter`, by ascending id (descending with `newestFirst`).
    public func jobs(_ filter: JobFilter = JobFilter()) async throws -> [Job] {
        try await jobPage(filter).jobs
    }

    /// Jobs matching `filter`, and whether a next page has more: keyset pagination, so a page costs its size
    /// (on the indexes of the filter), not its distance from the first.
    public func jobPage(_ filter: JobFilter = JobFilter()) async throws -> JobPage {
        try filter.checkLimit()
        let (sql, arguments) = filter.pageQuery()
        return try await read { db in
            JobPage(fetched: try Row.fetchAll(db, sql: sql, arguments: arguments).map(Job.init(row:)), filter: filter)
        }
    }

    /// The journal history of a job, oldest first; `jobNotFound` when there is no such job.
    public func events(job id: Int64) async throws -> [JobEvent] {
        try await read { db in
            _ = try Job.require(db, id: id)
            return try Row.fetchAll(db, sql: "SELECT * FROM job_events WHERE job_id = ? ORDER BY id", arguments: [id])
                .map { try JobEvent(row: $0) }
        }
    }

    /// The number of jobs in each state, every state present (zero when empty).
    public func stats() async throws -> [JobState: Int] {
        try await read { db in
            var counts = Dictionary(uniqueKeysWithValues: JobState.allCases.map { ($0, 0) })
            for row in try Row.fetchAll(db, sql: "SELECT state, count(*) AS n FROM jobs GROUP BY state") {
                if let state = JobState(rawValue: try row.decode(forColumn: "state")) { counts[state] = try row.decode(forColumn: "n") }
            }
            return counts
        }
    }
}
