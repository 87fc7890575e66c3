import Foundation
import PostgresNIO
import WorkerStore

extension PostgresJournal {
    /// Unfinished jobs (scheduled, queued, running, retrying, interrupted) and dead jobs per queue and state, in
    /// one statement. Each part repeats the WHERE terms of its partial index (jobs_ready, jobs_interrupted,
    /// jobs_scheduled, jobs_running, jobs_dead), so the cost follows those jobs, not the history.
    public func depth() async throws -> [QueueDepth] {
        try await counts(Self.depthSQL)
    }

    /// Jobs per queue and state for every state but `completed` (see `JobStore.countsExceptCompleted`): the parts of
    /// `depth()` and the cancelled jobs (jobs_cancelled), in one statement.
    public func countsExceptCompleted() async throws -> [String: [JobState: Int]] {
        try await counts(Self.countsExceptCompletedSQL).reduce(into: [:]) { counts, depth in
            counts[depth.queue, default: [:]][depth.state] = depth.count
        }
    }

    private func counts(_ sql: String) async throws -> [QueueDepth] {
        try await rows(PostgresQuery(unsafeSQL: sql)).compactMap { row in
            let (queue, name, count) = try row.decode((String, String, Int).self)
            return JobState(rawValue: name).map { QueueDepth(queue: queue, state: $0, count: count) }
        }
    }

    /// The partial indexes `depth()` counts through: their WHERE terms, and the state they hold when one (written
    /// as a constant, the count of a single state's index on `queue` reads the index alone: jobs_dead, jobs_cancelled).
    private static let depthParts: [(terms: String, state: String?)] = [
        ("state IN ('queued', 'retrying')", nil), ("state = 'interrupted'", "interrupted"), ("state = 'scheduled'", "scheduled"),
        ("state = 'running'", "running"), ("state = 'dead'", "dead"),
    ]

    static let depthSQL = countsSQL(depthParts)
    static let countsExceptCompletedSQL = countsSQL(depthParts + [("state = 'cancelled'", "cancelled")])

    /// Jobs per queue and state of each part, by queue and state.
    private static func countsSQL(_ parts: [(terms: String, state: String?)]) -> String {
        "SELECT * FROM (" + parts.map { part in
            part.state.map { "SELECT queue, '\($0)'::text, count(*) FROM jobs WHERE \(part.terms) GROUP BY queue" }
                ?? "SELECT queue, state, count(*) FROM jobs WHERE \(part.terms) GROUP BY queue, state"
        }.joined(separator: " UNION ALL ") + #") depth (queue, state, n) ORDER BY queue COLLATE "C", state COLLATE "C""#
    }

    /// Per queue, how long its oldest queued job has been ready to run (since its `run_at`), in seconds by the
    /// server's clock, read through the index of ready jobs: how long the queue keeps work waiting.
    public func oldestQueuedAge() async throws -> [String: Double] {
        var oldest: [String: Double] = [:]
        for row in try await rows(PostgresQuery(unsafeSQL: Self.oldestQueuedSQL(age: true))) {
            let (queue, age) = try row.decode((String, Int64).self)
            oldest[queue] = Double(max(0, age)) / 1e6
        }
        return oldest
    }

    /// Per queue, the earliest `run_at` of its queued jobs (`age`: the server's time since then, in microseconds).
    static func oldestQueuedSQL(age: Bool) -> String {
        """
        SELECT queue, \(age ? "worker_micros() - min(run_at)" : "min(run_at)") FROM jobs
        WHERE state IN ('queued', 'retrying') AND state = 'queued' GROUP BY queue
        """
    }

    /// Everything `worker status` shows, from one snapshot (a repeatable-read transaction): jobs per queue and
    /// state (counting finished jobs reads the whole table), the live workers (registered, not stopped, and their
    /// lock held: a worker whose process died is not shown), and the oldest queued job per queue.
    public func overview() async throws -> Overview {
        let logger = self.logger
        return try await snapshot { connection in
            var at: Micros = 0
            for try await now in try await connection.query("SELECT worker_micros()", logger: logger).decode(Int64.self) {
                at = now
            }
            var counts: [String: [JobState: Int]] = [:]
            let countRows = try await connection.query("SELECT queue, state, count(*) FROM jobs GROUP BY queue, state", logger: logger)
            for try await (queue, name, count) in countRows.decode((String, String, Int).self) {
                if let state = JobState(rawValue: name) { counts[queue, default: [:]][state] = count }
            }
            var oldest: [String: Micros] = [:]
            let oldestRows = try await connection.query(PostgresQuery(unsafeSQL: Self.oldestQueuedSQL(age: false)), logger: logger)
            for try await (queue, runAt) in oldestRows.decode((String, Int64).self) { oldest[queue] = runAt }
            var workers: [WorkerRecord] = []
            let workerRows = try await connection.query("""
                SELECT \(unescaped: WorkerRecord.pgColumns) FROM workers
                WHERE stopped_at IS NULL AND \(unescaped: LockKeys.heldSQL(keyColumn: "workers.lock_key"))
                ORDER BY started_at, id
                """, logger: logger)
            for try await row in workerRows { workers.append(try WorkerRecord(postgres: row)) }
            return Overview(counts: counts, workers: workers, oldestQueued: oldest, at: at)
        }
    }
}

extension PostgresJournal {
    /// Runs `body` in a read-only repeatable-read transaction: several statements read one snapshot. A read, not
    /// a write point: no `commit:LABEL` fault point (`transaction`'s), which crash tests would expect a worker to reach.
    func snapshot<T: Sendable>(_ body: @escaping @Sendable (PostgresConnection) async throws -> T) async throws -> T {
        let logger = self.logger
        return try await mapping {
            try await self.client.withTransaction(logger: logger) { connection -> T in
                try await connection.query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY", logger: logger)
                return try await body(connection)
            }
        }
    }
}

extension WorkerRecord {
    /// The columns `init(postgres:)` reads, for `SELECT \(WorkerRecord.pgColumns) FROM workers ...`.
    static let pgColumns = "id, pid, host, process_started_at, version, started_at, heartbeat_at, stopped_at, stop_reason"

    /// Reads a row selected with `pgColumns`.
    init(postgres row: PostgresRow) throws {
        let (id, pid, host, processStartedAt, version, startedAt, heartbeatAt, stoppedAt, stopReason) = try row.decode(
            (String, Int32, String, Int64?, String, Int64, Int64, Int64?, String?).self)
        self.init(
            registration: WorkerRegistration(id: id, pid: pid, host: host, processStartedAt: processStartedAt, version: version),
            startedAt: startedAt, heartbeatAt: heartbeatAt, stoppedAt: stoppedAt, stopReason: stopReason)
    }
}
