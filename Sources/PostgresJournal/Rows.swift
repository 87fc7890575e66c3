import Foundation
import PostgresNIO
import WorkerStore

extension Job {
    /// The columns `init(postgres:)` reads, for `SELECT \(Job.pgColumns) FROM \(Job.pgFrom) ...`.
    static let pgColumns = """
        jobs.id, jobs.handler, jobs.queue, jobs.state, jobs.priority, jobs.payload, jobs.unique_key, jobs.attempts,
        jobs.max_attempts, jobs.crashes, jobs.run_at, jobs.created_at, jobs.updated_at, jobs.finished_at,
        jobs.worker_id, jobs.last_error, jobs.cancel_requested_at, jobs.plugin_name, jobs.plugin_version,
        jobs.plugin_sha256, job_checkpoints.data AS checkpoint, job_checkpoints.updated_at AS checkpoint_at,
        jobs.concurrency_key, jobs.timeout_ms, jobs.schedule,
        (SELECT queues.timeout_ms FROM queues WHERE queues.name = jobs.queue) AS queue_timeout_ms
        """
    static let pgFrom = "jobs LEFT JOIN job_checkpoints ON job_checkpoints.job_id = jobs.id"

    /// Reads a row selected with `pgColumns`.
    init(postgres row: PostgresRow) throws {
        let (id, handler, queue, stateName, priority, payload, uniqueKey, attempts, maxAttempts, crashes, runAt, createdAt,
             updatedAt, finishedAt, workerID, lastError, cancelRequestedAt, pluginName, pluginVersion, pluginSHA256,
             checkpoint, checkpointAt, concurrencyKey, timeoutMilliseconds, schedule, queueTimeoutMilliseconds) = try row.decode(
            (Int64, String, String, String, Int, String, String?, Int, Int, Int, Int64, Int64, Int64, Int64?, String?,
             String?, Int64?, String?, String?, String?, Data?, Int64?, String?, Int64?, String?, Int64?).self)
        guard let state = JobState(rawValue: stateName) else {
            throw JournalError(.corrupt, "job \(id) has unknown state '\(stateName)'")
        }
        self.init(
            id: id, handler: handler, queue: queue, state: state, priority: priority, payload: payload, uniqueKey: uniqueKey,
            attempts: attempts, maxAttempts: maxAttempts, crashes: crashes, runAt: runAt, createdAt: createdAt,
            updatedAt: updatedAt, finishedAt: finishedAt, workerID: workerID, lastError: lastError,
            cancelRequestedAt: cancelRequestedAt, checkpoint: checkpoint, checkpointAt: checkpointAt,
            plugin: pluginName.map { PluginStamp(name: $0, version: pluginVersion ?? "", sha256: pluginSHA256 ?? "") },
            concurrencyKey: concurrencyKey, timeout: timeoutMilliseconds.map { .milliseconds($0) }, schedule: schedule,
            queueTimeout: queueTimeoutMilliseconds.map { .milliseconds($0) })
    }

    /// The job with `id`, or nil.
    static func fetch(_ connection: PostgresConnection, id: Int64, logger: Logger) async throws -> Job? {
        let rows = try await connection.query(
            "SELECT \(unescaped: pgColumns) FROM \(unescaped: pgFrom) WHERE jobs.id = \(id)", logger: logger)
        for try await row in rows { return try Job(postgres: row) }
        return nil
    }

    /// The job with `id`, or `jobNotFound`.
    static func require(_ connection: PostgresConnection, id: Int64, logger: Logger) async throws -> Job {
        guard let job = try await fetch(connection, id: id, logger: logger) else {
            throw JournalError(.jobNotFound, "no job with id \(id): list jobs with `worker jobs`")
        }
        return job
    }
}

extension JobEvent {
    /// The columns `init(postgres:)` reads.
    static let pgColumns = "id, job_id, at, from_state, to_state, attempt, worker_id, pid, reason"

    init(postgres row: PostgresRow) throws {
        let (id, jobID, at, fromName, toName, attempt, workerID, pid, reason) = try row.decode(
            (Int64, Int64, Int64, String?, String, Int, String?, Int32, String).self)
        guard let to = JobState(rawValue: toName) else {
            throw JournalError(.corrupt, "event \(id) has unknown state '\(toName)'")
        }
        self.init(
            id: id, jobID: jobID, at: at, from: fromName.flatMap(JobState.init(rawValue:)), to: to, attempt: attempt,
            workerID: workerID, pid: pid, reason: reason)
    }
}

/// Appending journal events.
enum PGEvents {
    /// Appends one event, timed by the server.
    static func append(
        _ connection: PostgresConnection, job: Int64, from: JobState?, to: JobState, attempt: Int, worker: String?,
        pid: Int32, reason: String, logger: Logger
    ) async throws {
        try await connection.query("""
            INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker_id, pid, reason)
            VALUES (\(job), worker_micros(), \(from?.rawValue), \(to.rawValue), \(attempt), \(worker), \(pid), \(reason))
            """, logger: logger)
    }
}
