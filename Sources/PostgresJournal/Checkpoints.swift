import Foundation
import Logging
import PostgresNIO
import Synchronization
import WorkerStore

extension PostgresJournal {
    /// Saves a job's checkpoint, replacing the previous one, blocking the calling thread until durable. Refused
    /// (`notHeld`) unless the job is running under `worker` by the claim this journal made.
    public func checkpointBlocking(job id: Int64, worker: String, data: Data) throws {
        let token = heldToken(id, worker: worker)
        let logger = self.logger
        try transactionBlocking("checkpoint") { connection in
            let held = try await PGHeld.require(connection, job: id, worker: worker, token: token, logger: logger)
            try await connection.query("""
                INSERT INTO job_checkpoints (job_id, data, attempt, updated_at) VALUES (\(id), \(data), \(held.attempts), worker_micros())
                ON CONFLICT (job_id) DO UPDATE SET data = excluded.data, attempt = excluded.attempt, updated_at = excluded.updated_at
                """, logger: logger)
        }
    }

    /// The token of `worker`'s claim of job `id` through this journal, if it holds it.
    func heldToken(_ id: Int64, worker: String) -> Int64? {
        workerSide.holds.withLock { holds in holds[id].flatMap { $0.worker == worker ? $0.token : nil } }
    }
}

/// A job as seen by the worker that holds it: the fence every worker write passes through.
struct PGHeld {
    let attempts: Int
    let maxAttempts: Int

    /// The job's attempt data if it is `running` under `worker` (and, when `token` is known, by that claim), locked
    /// against changes until the transaction ends; otherwise an error saying where it is.
    static func require(
        _ connection: PostgresConnection, job id: Int64, worker: String, token: Int64?, logger: Logger
    ) async throws -> PGHeld {
        let rows = try await connection.query(
            "SELECT state, worker_id, attempts, max_attempts, claim_token FROM jobs WHERE id = \(id) FOR SHARE", logger: logger
        ).collect()
        guard let row = rows.first else {
            throw JournalError(.jobNotFound, "no job with id \(id): list jobs with `worker jobs`")
        }
        let (state, holder, attempts, maxAttempts, claimToken) = try row.decode((String, String?, Int, Int, Int64?).self)
        // Without a token this journal never claimed the job for `worker`: refused, as the round refuses it.
        guard state == JobState.running.rawValue, holder == worker, let token, claimToken == token else {
            throw JournalError.notHeld(job: id, worker: worker, state: state, holder: holder)
        }
        return PGHeld(attempts: attempts, maxAttempts: maxAttempts)
    }
}
