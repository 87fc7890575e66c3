import WorkerStore
import GRDB

/// Appends journal events; every function that changes `jobs.state` calls it in the same transaction.
enum Events {
    static let insertSQL = """
        INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker_id, pid, reason)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?)
        """

    /// Records `from -> to` for a job, refusing a transition the state machine does not allow.
    static func append(
        _ db: Database, jobID: Int64, at: Micros, from: JobState?, to: JobState, attempt: Int,
        worker: String?, pid: Int32, reason: String
    ) throws {
        try checkLegal(jobID: jobID, from: from, to: to)
        try db.cachedStatement(sql: insertSQL).execute(arguments: [
            jobID, at, from?.rawValue, to.rawValue, attempt, worker, Int64(pid), reason,
        ])
    }

    static func checkLegal(jobID: Int64, from: JobState?, to: JobState) throws {
        guard JobState.canTransition(from: from, to: to) else {
            throw JournalError(
                .illegalTransition,
                "job \(jobID) cannot go from \(from?.rawValue ?? "nothing") to \(to.rawValue)")
        }
    }
}
