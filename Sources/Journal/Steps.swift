import WorkerStore
import Foundation
import GRDB

extension Journal {
    /// Begins the step `name` of a job held by `worker`. When an earlier attempt completed it, returns that record
    /// (the step must not run again); otherwise records that it began and returns nil.
    public func beginStep(job id: Int64, worker: String, name: String) async throws -> StepRecord? {
        try await transaction("step-begin", try stepBegin(job: id, worker: worker, name: name))
    }

    /// `beginStep`, blocking the calling thread until durable (see `transactionBlocking`).
    public func beginStepBlocking(job id: Int64, worker: String, name: String) throws -> StepRecord? {
        try transactionBlocking("step-begin", try stepBegin(job: id, worker: worker, name: name))
    }

    /// Records the result of step `name`: from now on the step is answered from the journal.
    public func commitStep(job id: Int64, worker: String, name: String, result: Data) async throws {
        try await transaction("step-commit", stepCommit(job: id, worker: worker, name: name, result: result))
    }

    /// `commitStep`, blocking the calling thread until durable (see `transactionBlocking`).
    public func commitStepBlocking(job id: Int64, worker: String, name: String, result: Data) throws {
        try transactionBlocking("step-commit", stepCommit(job: id, worker: worker, name: name, result: result))
    }

    /// Records that the current attempt's run of step `name` failed with `error` (cut to `StepRecord.errorLimit`
    /// bytes). The step stays not completed, so the next attempt runs it again; the error is kept until then.
    /// Refused when the job is not held by `worker`, when this attempt did not begin the step, or when it completed.
    public func failStep(job id: Int64, worker: String, name: String, error: String) async throws {
        try await transaction("step-fail", stepFail(job: id, worker: worker, name: name, error: error))
    }

    /// `failStep`, blocking the calling thread until durable (see `transactionBlocking`).
    public func failStepBlocking(job id: Int64, worker: String, name: String, error: String) throws {
        try transactionBlocking("step-fail", stepFail(job: id, worker: worker, name: name, error: error))
    }

    private func stepBegin(job id: Int64, worker: String, name: String) throws -> @Sendable (Database) throws -> StepRecord? {
        guard !name.isEmpty else { throw JournalError(.invalidArgument, "step name is empty: name every step") }
        let now = self.now
        return { db in
            let held = try Held.require(db, job: id, worker: worker)
            if let done = try Self.step(db, job: id, name: name), done.completedAt != nil {
                return done
            }
            try db.cachedStatement(sql: """
                INSERT INTO job_steps (job_id, name, attempt, started_at) VALUES (?, ?, ?, ?)
                ON CONFLICT (job_id, name) DO UPDATE SET attempt = excluded.attempt, started_at = excluded.started_at,
                                                         failed_at = NULL
                """).execute(arguments: [id, name, held.attempts, now])
            return nil
        }
    }

    private func stepFail(job id: Int64, worker: String, name: String, error: String) -> @Sendable (Database) throws -> Void {
        let now = self.now
        let error = boundedText(error, limit: StepRecord.errorLimit)
        return { db in
            let held = try Held.require(db, job: id, worker: worker)
            guard let step = try Self.step(db, job: id, name: name), step.attempt == held.attempts else {
                throw JournalError(
                    .invalidArgument, "step '\(name)' of job \(id) was not begun by attempt \(held.attempts): begin a step before failing it")
            }
            guard step.completedAt == nil else {
                throw JournalError(.illegalTransition, "step '\(name)' of job \(id) is already completed")
            }
            try db.cachedStatement(sql: """
                UPDATE job_steps SET failed_at = ?, failed_attempt = ?, error = ? WHERE job_id = ? AND name = ?
                """).execute(arguments: [now, held.attempts, error, id, name])
        }
    }

    private func stepCommit(job id: Int64, worker: String, name: String, result: Data) -> @Sendable (Database) throws -> Void {
        let now = self.now
        return { db in
            let held = try Held.require(db, job: id, worker: worker)
            if let done = try Self.step(db, job: id, name: name), done.completedAt != nil {
                throw JournalError(.illegalTransition, "step '\(name)' of job \(id) is already completed")
            }
            try db.cachedStatement(sql: """
                INSERT INTO job_steps (job_id, name, attempt, started_at, completed_at, result) VALUES (?, ?, ?, ?, ?, ?)
                ON CONFLICT (job_id, name) DO UPDATE SET attempt = excluded.attempt, completed_at = excluded.completed_at,
                                                         result = excluded.result, failed_at = NULL,
                                                         failed_attempt = NULL, error = NULL
                """).execute(arguments: [id, name, held.attempts, now, now, result])
        }
    }

    /// Every step of a job, begun or completed, in the order they began.
    public func steps(job id: Int64) async throws -> [StepRecord] {
        try await read { db in
            try Row.fetchAll(db, sql: "SELECT * FROM job_steps WHERE job_id = ? ORDER BY started_at, name", arguments: [id])
                .map { try StepRecord(row: $0) }
        }
    }

    static func step(_ db: Database, job id: Int64, name: String) throws -> StepRecord? {
        try Row.fetchOne(
            db.cachedStatement(sql: "SELECT * FROM job_steps WHERE job_id = ? AND name = ?"), arguments: [id, name]
        ).map { try StepRecord(row: $0) }
    }
}

extension StepRecord {
    init(row: Row) throws {
        self.init(
            jobID: try row.decode(forColumn: "job_id"), name: try row.decode(forColumn: "name"),
            attempt: try row.decode(forColumn: "attempt"), startedAt: try row.decode(forColumn: "started_at"),
            completedAt: try row.decode(forColumn: "completed_at"), result: try row.decode(forColumn: "result"),
            failedAt: try row.decode(forColumn: "failed_at"), failedAttempt: try row.decode(forColumn: "failed_attempt"),
            error: try row.decode(forColumn: "error"))
    }
}
