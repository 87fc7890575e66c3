import WorkerStore
import Foundation
import GRDB

extension Journal {
    /// Saves the job's checkpoint, replacing the previous one. Durable when this returns.
    public func checkpoint(job id: Int64, worker: String, data: Data) async throws {
        try await transaction("checkpoint", checkpointWrite(job: id, worker: worker, data: data))
    }

    /// `checkpoint`, blocking the calling thread until durable (see `transactionBlocking`).
    public func checkpointBlocking(job id: Int64, worker: String, data: Data) throws {
        try transactionBlocking("checkpoint", checkpointWrite(job: id, worker: worker, data: data))
    }

    private func checkpointWrite(job id: Int64, worker: String, data: Data) -> @Sendable (Database) throws -> Void {
        let now = self.now
        return { db in
            let held = try Held.require(db, job: id, worker: worker)
            try db.cachedStatement(sql: """
                INSERT INTO job_checkpoints (job_id, data, attempt, updated_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (job_id) DO UPDATE SET data = excluded.data, attempt = excluded.attempt,
                                                   updated_at = excluded.updated_at
                """).execute(arguments: [id, data, held.attempts, now])
        }
    }
}
