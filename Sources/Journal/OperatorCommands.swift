import WorkerStore
import GRDB

extension Journal {
    /// Moves a dead, cancelled or retrying job back to `queued` to run now, its event naming `origin`. A dead or
    /// cancelled job gets a fresh set of attempts.
    public func retry(job id: Int64, by origin: ChangeOrigin) async throws -> Job {
        let now = self.now
        let pid = options.pid
        let job = try await transaction("retry") { db in
            try Self.retry(db, try Job.require(db, id: id), at: now, pid: pid, reason: origin.retriedReason)
            return try Job.require(db, id: id)
        }
        announceNewWork()
        return job
    }

    /// Cancels a job that has not finished, its event naming `origin`. A running job is asked to stop through its
    /// worker.
    public func cancel(job id: Int64, by origin: ChangeOrigin) async throws -> CancelResult {
        let now = self.now
        let pid = options.pid
        return try await transaction("cancel") { db in
            try Self.cancel(db, try Job.require(db, id: id), at: now, pid: pid, reason: origin.cancelledReason)
        }
    }

    /// Retries `job` (read in this transaction) as `retry(job:)` does, journaling `reason`; `illegalTransition`
    /// or `uniqueKeyConflict` when it cannot be retried.
    static func retry(_ db: Database, _ job: Job, at now: Micros, pid: Int32, reason: String) throws {
        let id = job.id
        guard JobState.retryable.contains(job.state) else {
            throw JournalError(
                .illegalTransition,
                "job \(id) is \(job.state.rawValue): only dead, cancelled or retrying jobs can be retried")
        }
        if let key = job.uniqueKey, job.state.isFinished,
           let other = try Int64.fetchOne(
               db, sql: "SELECT id FROM jobs WHERE unique_key = ? AND unique_key IS NOT NULL AND state <> 'completed' AND state <> 'dead' AND state <> 'cancelled'",
               arguments: [key]) {
            throw JournalError(
                .uniqueKeyConflict,
                "job \(id) cannot be retried: job \(other) with the same key '\(key)' is not finished; cancel or wait for it")
        }
        let attempts = job.state.isFinished ? 0 : job.attempts
        try db.execute(
            sql: """
                UPDATE jobs SET state = 'queued', attempts = ?, run_at = ?, updated_at = ?, finished_at = NULL
                WHERE id = ?
                """,
            arguments: [attempts, now, now, id])
        try Events.append(
            db, jobID: id, at: now, from: job.state, to: .queued, attempt: attempts, worker: nil, pid: pid, reason: reason)
    }

    /// Cancels `job` (read in this transaction) as `cancel(job:)` does, journaling `reason`; `illegalTransition`
    /// when it has finished.
    static func cancel(_ db: Database, _ job: Job, at now: Micros, pid: Int32, reason: String) throws -> CancelResult {
        let id = job.id
        switch job.state {
        case .cancelled:
            return .alreadyCancelled(job)
        case .completed, .dead:
            throw JournalError(.illegalTransition, "job \(id) is already \(job.state.rawValue): there is nothing to cancel")
        case .running:
            if job.cancelRequestedAt == nil {
                try db.execute(sql: "UPDATE jobs SET cancel_requested_at = ? WHERE id = ?", arguments: [now, id])
            }
            return .requested(try Job.require(db, id: id))
        case .scheduled, .queued, .retrying, .interrupted:
            try db.execute(
                sql: "UPDATE jobs SET state = 'cancelled', updated_at = ?, finished_at = ? WHERE id = ?",
                arguments: [now, now, id])
            try Events.append(
                db, jobID: id, at: now, from: job.state, to: .cancelled, attempt: job.attempts, worker: nil, pid: pid,
                reason: reason)
            return .cancelled(try Job.require(db, id: id))
        }
    }
}
