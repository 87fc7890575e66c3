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

    /// Reads a row selected with `columns`, by position: name lookups cost more than the query on the hot path.
    init(row: Row) throws {
        id = row[0]
        handler = row[1]
        queue = row[2]
        let stateName: String = row[3]
        guard let state = JobState(rawValue: stateName) else {
            throw JournalError(.corrupt, "job \(row[0] as Int64) has unknown state '\(stateName)'")
        }
        self.state = state
        priority = row[4]
        payload = row[5]
        uniqueKey = row[6]
        attempts = row[7]
        maxAttempts = row[8]
        crashes = row[9]
        runAt = row[10]
        createdAt = row[11]
        updatedAt = row[12]
        finishedAt = row[13]
        workerID = row[14]
        lastError = row[15]
        cancelRequestedAt = row[16]
        if let name: String = row[17] {
            plugin = PluginStamp(name: name, version: row[18] ?? "", sha256: row[19] ?? "")
        }
        checkpoint = row[20]
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
