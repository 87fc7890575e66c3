import WorkerStore
import GRDB

extension Journal {
    /// The live workers, then the newest stopped or dead ones, at most `limit`, each with the jobs it holds
    /// `running` (see `JobStore.workerSummaries`): two reads, the counts through jobs_running. Liveness is decided
    /// as `isLive` decides it (registered, not stopped, its liveness lock held).
    public func workerSummaries(limit: Int) async throws -> [WorkerSummary] {
        let liveness = self.liveness
        return try await read { db in
            let running = "(SELECT count(*) FROM jobs INDEXED BY jobs_running WHERE state = 'running' AND worker_id = workers.id) AS running"
            let registered = try Row.fetchAll(
                db, sql: "SELECT workers.*, workers.rowid AS slot, \(running) FROM workers WHERE stopped_at IS NULL")
            let stopped = try Row.fetchAll(db, sql: """
                SELECT workers.*, \(running) FROM workers INDEXED BY workers_stopped WHERE stopped_at IS NOT NULL
                ORDER BY stopped_at DESC LIMIT ?
                """, arguments: [max(0, limit)])
            var candidates: [WorkerSummary] = []
            for row in registered {
                candidates.append(WorkerSummary(
                    record: try WorkerRecord(row: row), live: try liveness.isHeld(slot: try row.decode(forColumn: "slot")),
                    running: try row.decode(forColumn: "running")))
            }
            for row in stopped {
                candidates.append(WorkerSummary(record: try WorkerRecord(row: row), live: false, running: try row.decode(forColumn: "running")))
            }
            return WorkerSummary.listing(candidates, limit: limit)
        }
    }
}
