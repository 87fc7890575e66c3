import PostgresNIO
import WorkerStore

/// The activity rollup (`job_activity`, see migration 0004): written by the statements that record outcomes, read
/// by the dashboard's charts.
enum PGActivity {
    /// The CTE `activity` (to follow a comma) that adds the jobs `from` yields to the worker's row of the minute,
    /// one upsert however many jobs: `state` is the state each went to, `at` the time (the same on every row),
    /// `worker` the worker's name, all SQL expressions over `from`.
    static func cte(state: String, at: String, worker: String, from: String) -> String {
        """
        activity AS (
            INSERT INTO job_activity AS a (minute, worker_id, completed, failed, interrupted)
            SELECT \(at) - \(at) % \(ActivityRollup.minute), \(worker), count(*) FILTER (WHERE \(state) = 'completed'),
                   count(*) FILTER (WHERE \(state) IN ('retrying', 'dead')), count(*) FILTER (WHERE \(state) = 'interrupted')
            FROM \(from) GROUP BY 1, 2
            HAVING count(*) FILTER (WHERE \(state) IN ('completed', 'retrying', 'dead', 'interrupted')) > 0
            ON CONFLICT (minute, worker_id) DO UPDATE SET completed = a.completed + excluded.completed,
                failed = a.failed + excluded.failed, interrupted = a.interrupted + excluded.interrupted)
        """
    }

    /// The CTE `expired` (to follow a comma) that deletes the rows older than the retention, of every worker (a dead
    /// worker's too), given the server's time `now`, for a heartbeat: off the rounds' statement. The rows another
    /// transaction holds are skipped, not waited for (the next beat takes them): workers never wait on each other.
    static func expiry(now: String) -> String {
        """
        expired AS (
            DELETE FROM job_activity WHERE (minute, worker_id) IN (
                SELECT minute, worker_id FROM job_activity
                WHERE minute < \(now) - \(now) % \(ActivityRollup.minute) - \(ActivityRollup.retention)
                FOR UPDATE SKIP LOCKED))
        """
    }
}

extension PostgresJournal {
    /// Attempts completed and failed, and jobs interrupted, per minute from `since`'s minute on, oldest first,
    /// summed over the workers: one row per minute and worker read, however many jobs ran.
    public func activity(since: Micros) async throws -> [ActivityMinute] {
        try await rows("""
            SELECT minute, sum(completed)::bigint, sum(failed)::bigint, sum(interrupted)::bigint FROM job_activity
            WHERE minute >= \(ActivityRollup.minute(of: since)) GROUP BY minute ORDER BY minute
            """).map { row in
            let (minute, completed, failed, interrupted) = try row.decode((Int64, Int64, Int64, Int64).self)
            return ActivityMinute(minute: minute, completed: Int(completed), failed: Int(failed), interrupted: Int(interrupted))
        }
    }
}
