import PostgresNIO
import WorkerStore

extension PostgresJournal {
    /// Deletes up to `limit` completed jobs that finished before `cutoff`, with their journal events, checkpoint
    /// and steps, in one transaction; returns how many. Short transactions keep row locks brief: call it again
    /// until it returns less than `limit`. Job ids are never reused (an identity column).
    public func pruneCompleted(finishedBefore cutoff: Micros, limit: Int = 500) async throws -> Int {
        guard limit > 0 else { throw JournalError(.invalidArgument, "prune limit is \(limit): pass 1 or more") }
        let logger = self.logger
        return try await transaction("prune") { connection in
            // The condition is checked again by the DELETE itself (a job retried meanwhile stays).
            var deleted: [Int64] = []
            let rows = try await connection.query("""
                WITH doomed AS MATERIALIZED (
                    SELECT id FROM jobs WHERE state = 'completed' AND finished_at < \(cutoff) ORDER BY id LIMIT \(limit)
                    FOR UPDATE SKIP LOCKED
                )
                DELETE FROM jobs USING doomed WHERE jobs.id = doomed.id AND jobs.state = 'completed' AND jobs.finished_at < \(cutoff)
                RETURNING jobs.id
                """, logger: logger)
            for try await id in rows.decode(Int64.self) { deleted.append(id) }
            guard !deleted.isEmpty else { return 0 }
            // A second statement: job_events' guard trigger must see the jobs gone, which a CTE of the same
            // statement would not.
            try await connection.query("""
                WITH events AS (DELETE FROM job_events WHERE job_id = ANY(\(deleted)::bigint[])),
                checkpoints AS (DELETE FROM job_checkpoints WHERE job_id = ANY(\(deleted)::bigint[]))
                DELETE FROM job_steps WHERE job_id = ANY(\(deleted)::bigint[])
                """, logger: logger)
            return deleted.count
        }
    }

    /// The completed jobs that finished before `cutoff` (what `pruneCompleted` would delete, all batches).
    public func completedCount(finishedBefore cutoff: Micros) async throws -> Int {
        let rows = try await self.rows("SELECT count(*) FROM jobs WHERE state = 'completed' AND finished_at < \(cutoff)")
        return try rows.first?.decode(Int.self) ?? 0
    }
}
