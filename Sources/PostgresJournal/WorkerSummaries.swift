import PostgresNIO
import WorkerStore

extension PostgresJournal {
    /// The live workers, then the newest stopped or dead ones, at most `limit`, each with the jobs it holds
    /// `running` (see `JobStore.workerSummaries`): one statement, the counts through jobs_running. Liveness is
    /// decided as `isLive` decides it (registered, not stopped, its lock held by some session).
    public func workerSummaries(limit: Int) async throws -> [WorkerSummary] {
        let rows = try await rows("""
            SELECT \(unescaped: WorkerRecord.pgColumns), live,
                   (SELECT count(*) FROM jobs WHERE state = 'running' AND worker_id = w.id) AS running
            FROM (SELECT *, \(unescaped: LockKeys.heldSQL(keyColumn: "lock_key")) AS live FROM workers WHERE stopped_at IS NULL
                  UNION ALL
                  (SELECT *, false FROM workers WHERE stopped_at IS NOT NULL ORDER BY stopped_at DESC LIMIT \(Int64(max(0, limit))))) AS w
            """)
        let candidates = try rows.map { row in
            let cells = row.makeRandomAccess()
            let count = cells.count
            return WorkerSummary(
                record: try WorkerRecord(postgres: row), live: try cells[count - 2].decode(Bool.self),
                running: Int(try cells[count - 1].decode(Int64.self)))
        }
        return WorkerSummary.listing(candidates, limit: limit)
    }
}
