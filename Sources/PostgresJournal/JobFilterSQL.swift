import PostgresNIO
import WorkerStore

/// A `JobFilter` as PostgreSQL conditions with their binds, for listings (`jobs`, `jobPage`) and bulk changes.
struct JobFilterSQL {
    /// The conditions, each on `jobs.` columns, to be ANDed.
    var conditions: [String] = []
    var binds = PostgresBindings()

    /// The next bind's placeholder after appending `value`.
    private mutating func bind(_ value: some PostgresDynamicTypeEncodable) -> String {
        binds.append(value)
        return "$\(binds.count)"
    }

    /// The selecting terms of `filter` (not its cursor, order or limit). Equality on handler, queue or schedule keeps
    /// to an index (jobs_handler, jobs_queue, jobs_schedule); a state is written as a constant, not bound, so that the planner matches it
    /// to the partial index of that state (jobs_stopped, jobs_ready...) whatever plan it caches. The time and the
    /// text only filter the rows those select.
    init(terms filter: JobFilter) {
        if let state = filter.state {
            // A case of a closed enum, never user text: safe to write into the statement.
            conditions.append("jobs.state = '\(state.rawValue)'")
        }
        if let handler = filter.handler { conditions.append("jobs.handler = \(bind(handler))") }
        if let queue = filter.queue { conditions.append("jobs.queue = \(bind(queue))") }
        if let schedule = filter.schedule { conditions.append("jobs.schedule = \(bind(schedule))") }
        if let since = filter.createdSince { conditions.append("jobs.created_at >= \(bind(since))") }
        if let search = filter.search {
            // strpos, not LIKE: the text is matched as it is, `%` and `_` included, and case-sensitively (SQLite's
            // instr, which the SQLite journal uses).
            let text = bind(search)
            conditions.append("(strpos(jobs.payload, \(text)) > 0 OR strpos(jobs.last_error, \(text)) > 0)")
        }
    }

    /// `WHERE ...` of the conditions, or nothing.
    var whereClause: String {
        conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
    }

    /// The query of a page of `filter`: one row more than its limit, to tell whether another page follows, in id
    /// order from the cursor on (keyset pagination: the index of the filter read from the cursor, never skipped rows).
    static func page(_ filter: JobFilter) -> PostgresQuery {
        var sql = JobFilterSQL(terms: filter)
        if let after = filter.after {
            sql.conditions.append(filter.newestFirst ? "jobs.id < \(sql.bind(after))" : "jobs.id > \(sql.bind(after))")
        }
        let limit = sql.bind(Int64(filter.fetchLimit))
        return PostgresQuery(
            unsafeSQL: "SELECT \(Job.pgColumns) FROM \(Job.pgFrom)\(sql.whereClause) ORDER BY jobs.id\(filter.newestFirst ? " DESC" : "") LIMIT \(limit)",
            binds: sql.binds)
    }
}
