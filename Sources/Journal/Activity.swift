import WorkerStore
import GRDB

/// The activity rollup (`job_activity`, see migration 0008): written by the transactions that record outcomes,
/// read by the dashboard's charts.
enum ActivityRows {
    /// Adds `counts` to `worker`'s row of the minute of `now`: one statement per transaction, however many jobs.
    static func add(_ db: Database, _ counts: ActivityRollup.Counts, worker: String, at now: Micros) throws {
        guard !counts.isEmpty else { return }
        try db.cachedStatement(sql: """
            INSERT INTO job_activity (minute, worker_id, completed, failed, interrupted) VALUES (?, ?, ?, ?, ?)
            ON CONFLICT (minute, worker_id) DO UPDATE SET completed = completed + excluded.completed,
                failed = failed + excluded.failed, interrupted = interrupted + excluded.interrupted
            """).execute(arguments: [ActivityRollup.minute(of: now), worker, counts.completed, counts.failed, counts.interrupted])
    }

    /// Deletes the rows older than the retention, of every worker (a dead worker's too), for a heartbeat: off the
    /// rounds' path, and a look at the start of the primary key that finds nothing but once a minute.
    static func expire(_ db: Database, at now: Micros) throws {
        try db.cachedStatement(sql: "DELETE FROM job_activity WHERE minute < ?")
            .execute(arguments: [ActivityRollup.minute(of: now) - ActivityRollup.retention])
    }
}

extension Journal {
    /// Attempts completed and failed, and jobs interrupted, per minute from `since`'s minute on, oldest first,
    /// summed over the workers: one row per minute and worker read, however many jobs ran.
    public func activity(since: Micros) async throws -> [ActivityMinute] {
        try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT minute, sum(completed), sum(failed), sum(interrupted) FROM job_activity WHERE minute >= ?
                GROUP BY minute ORDER BY minute
                """, arguments: [ActivityRollup.minute(of: since)]
            ).map { row in
                ActivityMinute(
                    minute: try row.decode(atIndex: 0), completed: try row.decode(atIndex: 1), failed: try row.decode(atIndex: 2),
                    interrupted: try row.decode(atIndex: 3))
            }
        }
    }
}
