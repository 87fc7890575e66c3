import Foundation
import Logging
import PostgresNIO
import WorkerStore

extension PostgresJournal {
    /// Begins step `name` of a job held by `worker`: its record when an earlier attempt completed it (the step must
    /// not run again), else records that this attempt began it and returns nil. Blocks until durable.
    public func beginStepBlocking(job id: Int64, worker: String, name: String) throws -> StepRecord? {
        guard !name.isEmpty else { throw JournalError(.invalidArgument, "step name is empty: name every step") }
        let token = heldToken(id, worker: worker)
        let logger = self.logger
        return try transactionBlocking("step-begin") { connection -> StepRecord? in
            let held = try await PGHeld.require(connection, job: id, worker: worker, token: token, logger: logger)
            if let done = try await Self.step(connection, job: id, name: name, logger: logger), done.completedAt != nil {
                return done
            }
            try await connection.query("""
                INSERT INTO job_steps (job_id, name, attempt, started_at) VALUES (\(id), \(name), \(held.attempts), worker_micros())
                ON CONFLICT (job_id, name) DO UPDATE SET attempt = excluded.attempt, started_at = excluded.started_at,
                                                         failed_at = NULL
                """, logger: logger)
            return nil
        }
    }

    /// Records the result of step `name`: from now on the step is answered from the journal. Blocks until durable.
    public func commitStepBlocking(job id: Int64, worker: String, name: String, result: Data) throws {
        let token = heldToken(id, worker: worker)
        let logger = self.logger
        try transactionBlocking("step-commit") { connection in
            let held = try await PGHeld.require(connection, job: id, worker: worker, token: token, logger: logger)
            if let done = try await Self.step(connection, job: id, name: name, logger: logger), done.completedAt != nil {
                throw JournalError(.illegalTransition, "step '\(name)' of job \(id) is already completed")
            }
            try await connection.query("""
                INSERT INTO job_steps (job_id, name, attempt, started_at, completed_at, result)
                VALUES (\(id), \(name), \(held.attempts), worker_micros(), worker_micros(), \(result))
                ON CONFLICT (job_id, name) DO UPDATE SET attempt = excluded.attempt, completed_at = excluded.completed_at,
                                                         result = excluded.result, failed_at = NULL,
                                                         failed_attempt = NULL, error = NULL
                """, logger: logger)
        }
    }

    /// Records that this attempt's run of step `name` failed with `error` (cut to `StepRecord.errorLimit` bytes).
    /// Refused unless the job is held by `worker` and this attempt began the step and did not complete it.
    public func failStepBlocking(job id: Int64, worker: String, name: String, error: String) throws {
        let token = heldToken(id, worker: worker)
        let logger = self.logger
        let error = boundedText(error, limit: StepRecord.errorLimit)
        try transactionBlocking("step-fail") { connection in
            let held = try await PGHeld.require(connection, job: id, worker: worker, token: token, logger: logger)
            guard let step = try await Self.step(connection, job: id, name: name, logger: logger), step.attempt == held.attempts else {
                throw JournalError(
                    .invalidArgument, "step '\(name)' of job \(id) was not begun by attempt \(held.attempts): begin a step before failing it")
            }
            guard step.completedAt == nil else {
                throw JournalError(.illegalTransition, "step '\(name)' of job \(id) is already completed")
            }
            try await connection.query("""
                UPDATE job_steps SET failed_at = worker_micros(), failed_attempt = \(held.attempts), error = \(error)
                WHERE job_id = \(id) AND name = \(name)
                """, logger: logger)
        }
    }

    /// Step `name` of a job, or nil.
    private static func step(_ connection: PostgresConnection, job id: Int64, name: String, logger: Logger) async throws -> StepRecord? {
        let rows = try await connection.query("""
            SELECT job_id, name, attempt, started_at, completed_at, result, failed_at, failed_attempt, error
            FROM job_steps WHERE job_id = \(id) AND name = \(name)
            """, logger: logger).collect()
        guard let row = rows.first else { return nil }
        let (jobID, stepName, attempt, startedAt, completedAt, result, failedAt, failedAttempt, error) = try row.decode(
            (Int64, String, Int, Int64, Int64?, Data?, Int64?, Int?, String?).self)
        return StepRecord(
            jobID: jobID, name: stepName, attempt: attempt, startedAt: startedAt, completedAt: completedAt, result: result,
            failedAt: failedAt, failedAttempt: failedAttempt, error: error)
    }
}
