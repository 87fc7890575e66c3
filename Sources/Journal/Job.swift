import WorkerStore
import Foundation
import GRDB

extension Job {
    /// The columns `init(row:)` reads, for `SELECT \(Job.columns) FROM jobs LEFT JOIN job_checkpoints ...`.
    static let columns = """
        jobs.id, jobs.handler, jobs.queue, jobs.state, jobs.priority, jobs.payload, jobs.unique_key, jobs.attempts,
        jobs.max_attempts, jobs.crashes, jobs.run_at, jobs.created_at, jobs.updated_at, jobs.finished_at,
        jobs.worker_id, jobs.last_error, jobs.cancel_requested_at, jobs.plugin_name, jobs.plugin_version,
        jobs.plugin_sha256, job_checkpoints.data AS checkpoint, job_checkpoints.updated_at AS checkpoint_at,
        jobs.concurrency_key, jobs.timeout_ms, jobs.schedule,
        (SELECT queues.timeout_ms FROM queues WHERE queues.name = jobs.queue) AS queue_timeout_ms
        """
    static let from = "jobs LEFT JOIN job_checkpoints ON job_checkpoints.job_id = jobs.id"

    /// Reads a row selected with `columns`, by position: name lookups cost more than the query on the hot path.
    init(row: Row) throws {
        let stateName: String = try row.decode(atIndex: 3)
        guard let state = JobState(rawValue: stateName) else {
            throw JournalError(.corrupt, "job \(try row.decode(Int64.self, atIndex: 0)) has unknown state '\(stateName)'")
        }
        var plugin: PluginStamp?
        if let name: String = try row.decode(atIndex: 17) {
            plugin = PluginStamp(name: name, version: try row.decode(atIndex: 18) ?? "", sha256: try row.decode(atIndex: 19) ?? "")
        }
        self.init(
            id: try row.decode(atIndex: 0), handler: try row.decode(atIndex: 1), queue: try row.decode(atIndex: 2),
            state: state, priority: try row.decode(atIndex: 4), payload: try row.decode(atIndex: 5),
            uniqueKey: try row.decode(atIndex: 6), attempts: try row.decode(atIndex: 7), maxAttempts: try row.decode(atIndex: 8),
            crashes: try row.decode(atIndex: 9), runAt: try row.decode(atIndex: 10), createdAt: try row.decode(atIndex: 11),
            updatedAt: try row.decode(atIndex: 12), finishedAt: try row.decode(atIndex: 13), workerID: try row.decode(atIndex: 14),
            lastError: try row.decode(atIndex: 15), cancelRequestedAt: try row.decode(atIndex: 16),
            checkpoint: try row.decode(atIndex: 20), checkpointAt: try row.decode(atIndex: 21), plugin: plugin,
            concurrencyKey: try row.decode(atIndex: 22), timeout: (try row.decode(Int64?.self, atIndex: 23)).map { .milliseconds($0) },
            schedule: try row.decode(atIndex: 24), queueTimeout: (try row.decode(Int64?.self, atIndex: 25)).map { .milliseconds($0) })
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

extension JobEvent {
    init(row: Row) throws {
        let toName: String = try row.decode(forColumn: "to_state")
        guard let to = JobState(rawValue: toName) else {
            throw JournalError(.corrupt, "event \(try row.decode(Int64.self, forColumn: "id")) has unknown state '\(toName)'")
        }
        self.init(
            id: try row.decode(forColumn: "id"), jobID: try row.decode(forColumn: "job_id"), at: try row.decode(forColumn: "at"),
            from: (try row.decode(String?.self, forColumn: "from_state")).flatMap(JobState.init(rawValue:)), to: to,
            attempt: try row.decode(forColumn: "attempt"), workerID: try row.decode(forColumn: "worker_id"),
            pid: try row.decode(forColumn: "pid"), reason: try row.decode(forColumn: "reason"))
    }
}
