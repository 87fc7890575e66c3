import WorkerStore
import GRDB

extension Journal {
    /// Deletes up to `limit` completed jobs that finished before `cutoff`, with their journal events, checkpoint
    /// and steps, in one transaction; returns how many. Short transactions keep the write lock free for workers:
    /// call it again until it returns less than `limit`. Job ids are never reused (AUTOINCREMENT).
    public func pruneCompleted(finishedBefore cutoff: Micros, limit: Int = 500) async throws -> Int {
        guard limit > 0 else { throw JournalError(.invalidArgument, "prune limit is \(limit): pass 1 or more") }
        // Found outside the write lock (a scan of old rows can take a while), deleted under it with the
        // condition checked again.
        let ids = try await read { db in
            try Int64.fetchAll(db, sql: """
                SELECT id FROM jobs WHERE state = 'completed' AND finished_at < ? ORDER BY id LIMIT ?
                """, arguments: [cutoff, limit])
        }
        guard !ids.isEmpty else { return 0 }
        let list = IDList(ids)
        return try await transaction("prune") { db in
            let deleted = try Int64.fetchAll(db, sql: """
                DELETE FROM jobs WHERE id IN \(IDList.sql) AND state = 'completed' AND finished_at < ? RETURNING id
                """, arguments: [list.json, cutoff])
            let gone = IDList(deleted)
            for table in ["job_events", "job_checkpoints", "job_steps"] {
                try db.execute(sql: "DELETE FROM \(table) WHERE job_id IN \(IDList.sql)", arguments: [gone.json])
            }
            return deleted.count
        }
    }

    /// The completed jobs that finished before `cutoff` (what `pruneCompleted` would delete, all batches).
    public func completedCount(finishedBefore cutoff: Micros) async throws -> Int {
        try await read { db in
            try Int.fetchOne(db, sql: "SELECT count(*) FROM jobs WHERE state = 'completed' AND finished_at < ?", arguments: [cutoff]) ?? 0
        }
    }
}
