import Foundation
import GRDB

/// Which plugin ran a job: recorded when a worker claims it.
public struct PluginStamp: Sendable, Equatable {
    /// The plugin's name.
    public var name: String
    /// The plugin's version.
    public var version: String
    /// SHA-256 of the plugin file, in hex.
    public var sha256: String

    /// A stamp.
    public init(name: String, version: String, sha256: String) {
        self.name = name
        self.version = version
        self.sha256 = sha256
    }
}

/// A job as the journal holds it. Times are `Micros`.
public struct Job: Sendable, Equatable {
    public var id: Int64
    public var handler: String
    public var queue: String
    public var state: JobState
    /// Higher runs first.
    public var priority: Int
    /// The payload, JSON text.
    public var payload: String
    public var uniqueKey: String?
    /// Attempts started and counted; a graceful interruption gives its attempt back.
    public var attempts: Int
    public var maxAttempts: Int
    /// Times a worker died while running this job.
    public var crashes: Int
    public var runAt: Micros
    public var createdAt: Micros
    public var updatedAt: Micros
    public var finishedAt: Micros?
    /// The worker holding the job while `running`; otherwise the last one that ran it.
    public var workerID: String?
    public var lastError: String?
    /// When an operator asked to cancel it while it was running.
    public var cancelRequestedAt: Micros?
    /// The last checkpoint its handler saved.
    public var checkpoint: Data?
    /// The plugin that last ran it.
    public var plugin: PluginStamp?

    /// The columns `init(row:)` reads, for `SELECT \(Job.columns) FROM jobs LEFT JOIN job_checkpoints ...`.
    static let columns = """
        jobs.id, jobs.handler, jobs.queue, jobs.state, jobs.priority, jobs.payload, jobs.unique_key, jobs.attempts,
        jobs.max_attempts, jobs.crashes, jobs.run_at, jobs.created_at, jobs.updated_at, jobs.finished_at,
        jobs.worker_id, jobs.last_error, jobs.cancel_requested_at, jobs.plugin_name, jobs.plugin_version,
        jobs.plugin_sha256, job_checkpoints.data AS checkpoint
        """
    static let from = "jobs LEFT JOIN job_checkpoints ON job_checkpoints.job_id = jobs.id"

    init(row: Row) throws {
        id = row["id"]
        handler = row["handler"]
        queue = row["queue"]
        let stateName: String = row["state"]
        guard let state = JobState(rawValue: stateName) else {
            throw JournalError(.corrupt, "job \(row["id"] as Int64) has unknown state '\(stateName)'")
        }
        self.state = state
        priority = row["priority"]
        payload = row["payload"]
        uniqueKey = row["unique_key"]
        attempts = row["attempts"]
        maxAttempts = row["max_attempts"]
        crashes = row["crashes"]
        runAt = row["run_at"]
        createdAt = row["created_at"]
        updatedAt = row["updated_at"]
        finishedAt = row["finished_at"]
        workerID = row["worker_id"]
        lastError = row["last_error"]
        cancelRequestedAt = row["cancel_requested_at"]
        checkpoint = row["checkpoint"]
        if let name: String = row["plugin_name"] {
            plugin = PluginStamp(name: name, version: row["plugin_version"] ?? "", sha256: row["plugin_sha256"] ?? "")
        }
    }

    static func fetch(_ db: Database, id: Int64) throws -> Job? {
        let sql = "SELECT \(columns) FROM \(from) WHERE jobs.id = ?"
        return try Row.fetchOne(db.cachedStatement(sql: sql), arguments: [id]).map(Job.init(row:))
    }

    static func require(_ db: Database, id: Int64) throws -> Job {
        guard let job = try fetch(db, id: id) else {
            throw JournalError(.jobNotFound, "no job with id \(id): list jobs with `worker jobs`")
        }
        return job
    }
}

/// One journaled transition of a job.
public struct JobEvent: Sendable, Equatable {
    public var id: Int64
    public var jobID: Int64
    public var at: Micros
    /// Nil for the creation of the job.
    public var from: JobState?
    public var to: JobState
    /// The job's attempt count after the transition.
    public var attempt: Int
    /// The worker that made the transition; nil for operator commands and enqueues.
    public var workerID: String?
    public var pid: Int32
    public var reason: String

    init(row: Row) throws {
        id = row["id"]
        jobID = row["job_id"]
        at = row["at"]
        from = (row["from_state"] as String?).flatMap(JobState.init(rawValue:))
        let toName: String = row["to_state"]
        guard let to = JobState(rawValue: toName) else {
            throw JournalError(.corrupt, "event \(row["id"] as Int64) has unknown state '\(toName)'")
        }
        self.to = to
        attempt = row["attempt"]
        workerID = row["worker_id"]
        pid = row["pid"]
        reason = row["reason"]
    }
}
