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
    /// When that checkpoint was saved.
    public var checkpointAt: Micros?
    /// The plugin that last ran it.
    public var plugin: PluginStamp?

    /// The columns `init(row:)` reads, for `SELECT \(Job.columns) FROM jobs LEFT JOIN job_checkpoints ...`.
    static let columns = """
        jobs.id, jobs.handler, jobs.queue, jobs.state, jobs.priority, jobs.payload, jobs.unique_key, jobs.attempts,
        jobs.max_attempts, jobs.crashes, jobs.run_at, jobs.created_at, jobs.updated_at, jobs.finished_at,
        jobs.worker_id, jobs.last_error, jobs.cancel_requested_at, jobs.plugin_name, jobs.plugin_version,
        jobs.plugin_sha256, job_checkpoints.data AS checkpoint, job_checkpoints.updated_at AS checkpoint_at
        """
    static let from = "jobs LEFT JOIN job_checkpoints ON job_checkpoints.job_id = jobs.id"

    /// Reads a row selected with `columns`, by position: name lookups cost more than the query on the hot path.
    init(row: Row) throws {
        id = try row.decode(atIndex: 0)
        handler = try row.decode(atIndex: 1)
        queue = try row.decode(atIndex: 2)
        let stateName: String = try row.decode(atIndex: 3)
        guard let state = JobState(rawValue: stateName) else {
            throw JournalError(.corrupt, "job \(try row.decode(Int64.self, atIndex: 0)) has unknown state '\(stateName)'")
        }
        self.state = state
        priority = try row.decode(atIndex: 4)
        payload = try row.decode(atIndex: 5)
        uniqueKey = try row.decode(atIndex: 6)
        attempts = try row.decode(atIndex: 7)
        maxAttempts = try row.decode(atIndex: 8)
        crashes = try row.decode(atIndex: 9)
        runAt = try row.decode(atIndex: 10)
        createdAt = try row.decode(atIndex: 11)
        updatedAt = try row.decode(atIndex: 12)
        finishedAt = try row.decode(atIndex: 13)
        workerID = try row.decode(atIndex: 14)
        lastError = try row.decode(atIndex: 15)
        cancelRequestedAt = try row.decode(atIndex: 16)
        if let name: String = try row.decode(atIndex: 17) {
            plugin = PluginStamp(name: name, version: try row.decode(atIndex: 18) ?? "", sha256: try row.decode(atIndex: 19) ?? "")
        }
        checkpoint = try row.decode(atIndex: 20)
        checkpointAt = try row.decode(atIndex: 21)
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
        id = try row.decode(forColumn: "id")
        jobID = try row.decode(forColumn: "job_id")
        at = try row.decode(forColumn: "at")
        from = (try row.decode(String?.self, forColumn: "from_state")).flatMap(JobState.init(rawValue:))
        let toName: String = try row.decode(forColumn: "to_state")
        guard let to = JobState(rawValue: toName) else {
            throw JournalError(.corrupt, "event \(try row.decode(Int64.self, forColumn: "id")) has unknown state '\(toName)'")
        }
        self.to = to
        attempt = try row.decode(forColumn: "attempt")
        workerID = try row.decode(forColumn: "worker_id")
        pid = try row.decode(forColumn: "pid")
        reason = try row.decode(forColumn: "reason")
    }
}
