import WorkerStore
import GRDB

extension Journal {
    /// The job with this id; `jobNotFound` when there is none.
    public func job(_ id: Int64) async throws -> Job {
        try await read { db in try Job.require(db, id: id) }
    }

    /// Jobs matching `filter`, by ascending id.
    public func jobs(_ filter: JobFilter = JobFilter()) async throws -> [Job] {
        guard filter.limit >= 0 else {
            throw JournalError(.invalidArgument, "limit is \(filter.limit): pass --limit 0 or more")
        }
        return try await read { db in
            var conditions: [String] = []
            var arguments: StatementArguments = []
            if let state = filter.state {
                conditions.append("jobs.state = ?")
                arguments += [state.rawValue]
            }
            if let handler = filter.handler {
                conditions.append("jobs.handler = ?")
                arguments += [handler]
            }
            if let queue = filter.queue {
                conditions.append("jobs.queue = ?")
                arguments += [queue]
            }
            let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
            arguments += [filter.limit]
            return try Row.fetchAll(
                db, sql: "SELECT \(Job.columns) FROM \(Job.from)\(whereClause) ORDER BY jobs.id LIMIT ?", arguments: arguments
            ).map(Job.init(row:))
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
