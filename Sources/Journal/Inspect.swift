import Foundation
import GRDB
import WorkerStore

extension JobFilter {
    /// The selecting terms (not the cursor, order or limit), ANDed, each on `jobs.` columns. Equality on handler,
    /// queue, schedule or a state keeps to an index (0005_job_lookup_indexes, jobs_schedule of 0008, the partial
    /// state indexes); the time and the text only filter the rows those select. A state is written as a constant,
    /// not bound, so that SQLite matches it to its partial index whatever the plan.
    func terms() -> (sql: [String], arguments: StatementArguments) {
        var sql: [String] = []
        var arguments: StatementArguments = []
        if let state {
            sql.append("jobs.state = '\(state.rawValue)'")  // a case of a closed enum, never user text
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

    /// The partial index of the filter's state when it is not in id order (those of dead and cancelled jobs and the
    /// primary key are), with the index's own WHERE terms. With few such jobs, a page reads them all through it and
    /// sorts them; SQLite would rather walk the table in id order to avoid the sort, which with a million finished
    /// jobs and ten running ones reads the million (150 ms).
    var unorderedStateIndex: (name: String, terms: String)? {
        switch state {
        case .queued, .retrying: ("jobs_ready", "state = 'queued' OR state = 'retrying'")
        case .interrupted: ("jobs_interrupted", "state = 'interrupted'")
        case .scheduled: ("jobs_scheduled", "state = 'scheduled'")
        case .running: ("jobs_running", "state = 'running'")
        case .completed, .dead, .cancelled, nil: nil
        }
    }

    /// Up to how many entries of its state's index a page reads through it and sorts; with more, those jobs are
    /// common enough that a walk in id order finds a page of them soon.
    static let sortedStateLimit = 10_000

    /// The query of a page: one row more than `limit`, to tell whether another page follows; through `index` when
    /// given (`INDEXED BY`), and only up to job `bound` (in the page's order) when given.
    func pageQuery(indexedBy index: String? = nil, through bound: Int64? = nil) -> (sql: String, arguments: StatementArguments) {
        var (conditions, arguments) = selection()
        if let bound {
            conditions.append(newestFirst ? "jobs.id >= ?" : "jobs.id <= ?")
            arguments += [bound]
        }
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        arguments += [fetchLimit]
        let from = index.map { Job.from.replacingOccurrences(of: "jobs LEFT JOIN", with: "jobs INDEXED BY \($0) LEFT JOIN") } ?? Job.from
        return (
            "SELECT \(Job.columns) FROM \(from)\(whereClause) ORDER BY jobs.id\(newestFirst ? " DESC" : "") LIMIT ?",
            arguments
        )
    }

    /// The terms and the cursor.
    private func selection() -> (sql: [String], arguments: StatementArguments) {
        var (conditions, arguments) = terms()
        if let after {
            conditions.append(newestFirst ? "jobs.id < ?" : "jobs.id > ?")
            arguments += [after]
        }
        return (conditions, arguments)
    }

    /// The last job a page bounded to `count` jobs may read (the `count`-th the filter without its text selects
    /// from the cursor on, in the page's order), or nil when no job lies beyond it: the bound is then moot. The
    /// jobs are counted on an index (the filter's, or the primary key), not read.
    func lastScanned(_ db: Database, within count: Int, indexedBy index: String?) throws -> Int64? {
        let (conditions, arguments) = withoutSearch.selection()
        let whereClause = conditions.isEmpty ? "" : " WHERE " + conditions.joined(separator: " AND ")
        let ids = try Int64.fetchAll(db, sql: """
            SELECT jobs.id FROM jobs\(index.map { " INDEXED BY \($0)" } ?? "")\(whereClause)
            ORDER BY jobs.id\(newestFirst ? " DESC" : "") LIMIT 2 OFFSET ?
            """, arguments: arguments + [count - 1])
        return ids.count == 2 ? ids[0] : nil
    }

    /// The index a page of this filter should read, if it must be named: the state's partial index when it holds
    /// fewer than `sortedStateLimit` entries (counted on the index alone, with its own terms, up to that many).
    func pageIndex(_ db: Database) throws -> String? {
        guard let index = unorderedStateIndex else { return nil }
        let entries = try Int.fetchOne(db, sql: """
            SELECT count(*) FROM (SELECT 1 FROM jobs INDEXED BY \(index.name) WHERE \(index.terms) LIMIT ?)
            """, arguments: [Self.sortedStateLimit]) ?? 0
        return entries < Self.sortedStateLimit ? index.name : nil
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
    /// (on the indexes of the filter), not its distance from the first; a text search reads at most
    /// `filter.scanLimit` jobs.
    public func jobPage(_ filter: JobFilter = JobFilter()) async throws -> JobPage {
        try filter.checkLimit()
        return try await read { db in
            let index = try filter.pageIndex(db)
            let bound = try filter.scanBound.flatMap { try filter.lastScanned(db, within: $0, indexedBy: index) }
            let (sql, arguments) = filter.pageQuery(indexedBy: index, through: bound)
            return JobPage(
                fetched: try Row.fetchAll(db, sql: sql, arguments: arguments).map(Job.init(row:)), filter: filter, scannedThrough: bound)
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
