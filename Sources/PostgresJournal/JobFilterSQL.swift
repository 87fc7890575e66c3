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
    /// order from the cursor on (keyset pagination: the index of the filter read from the cursor, never skipped
    /// rows), and only up to job `bound` (in the page's order) when given.
    static func page(_ filter: JobFilter, through bound: Int64? = nil) -> PostgresQuery {
        var sql = JobFilterSQL(selection: filter)
        if let bound {
            sql.conditions.append(filter.newestFirst ? "jobs.id >= \(sql.bind(bound))" : "jobs.id <= \(sql.bind(bound))")
        }
        let limit = sql.bind(Int64(filter.fetchLimit))
        return PostgresQuery(
            unsafeSQL: "SELECT \(Job.pgColumns) FROM \(Job.pgFrom)\(sql.whereClause) ORDER BY jobs.id\(filter.newestFirst ? " DESC" : "") LIMIT \(limit)",
            binds: sql.binds)
    }

    /// The query of the last job a page bounded to `count` jobs may read and the one after it (see
    /// `JobFilter.scanLimit`): the `count`-th and next jobs the filter without its text selects from the cursor on,
    /// in the page's order, counted on an index (the filter's, or the primary key).
    static func scanBound(_ filter: JobFilter, count: Int) -> PostgresQuery {
        var sql = JobFilterSQL(selection: filter.withoutSearch)
        let offset = sql.bind(Int64(count - 1))
        return PostgresQuery(
            unsafeSQL: "SELECT jobs.id FROM jobs\(sql.whereClause) ORDER BY jobs.id\(filter.newestFirst ? " DESC" : "") LIMIT 2 OFFSET \(offset)",
            binds: sql.binds)
    }

    /// The terms and the cursor of `filter`.
    private init(selection filter: JobFilter) {
        self.init(terms: filter)
        if let after = filter.after {
            conditions.append(filter.newestFirst ? "jobs.id < \(bind(after))" : "jobs.id > \(bind(after))")
        }
    }
}
