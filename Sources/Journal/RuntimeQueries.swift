import WorkerStore
import GRDB

extension Journal {
    /// Jobs that keep a worker busy: queued, running, retrying or interrupted (scheduled ones do not count).
    public func activeJobCount() async throws -> Int {
        try await read { db in
            try Int.fetchOne(db, sql: """
                SELECT (SELECT count(*) FROM jobs INDEXED BY jobs_ready WHERE state = 'queued' OR state = 'retrying')
                     + (SELECT count(*) FROM jobs INDEXED BY jobs_interrupted WHERE state = 'interrupted')
                     + (SELECT count(*) FROM jobs INDEXED BY jobs_running WHERE state = 'running')
                """) ?? 0
        }
    }

    /// Unfinished jobs (queued, retrying, interrupted, running) per handler, in `queues` (every queue when
    /// empty): how many wait and how many run. Read through the partial indexes of those states.
    public func activeJobsByHandler(queues: [String] = []) async throws -> [ActiveHandlerJobs] {
        try await read { db in
            let inQueues = queues.isEmpty ? "" : " AND queue IN (\(queues.map { _ in "?" }.joined(separator: ", ")))"
            let arguments = StatementArguments(queues + queues + queues)
            return try Row.fetchAll(db, sql: """
                SELECT handler, sum(state <> 'running') AS waiting, sum(state = 'running') AS running FROM (
                    SELECT handler, state FROM jobs INDEXED BY jobs_ready WHERE (state = 'queued' OR state = 'retrying')\(inQueues)
                    UNION ALL SELECT handler, state FROM jobs INDEXED BY jobs_interrupted WHERE state = 'interrupted'\(inQueues)
                    UNION ALL SELECT handler, state FROM jobs INDEXED BY jobs_running WHERE state = 'running'\(inQueues)
                ) GROUP BY handler ORDER BY handler
                """, arguments: arguments).map {
                ActiveHandlerJobs(handler: try $0.decode(forColumn: "handler"), waiting: try $0.decode(forColumn: "waiting"),
                                  running: try $0.decode(forColumn: "running"))
            }
        }
    }

    /// The earliest `run_at` still to come of a scheduled or retrying job. Past ones are left out: a worker asks
    /// right after a claim, which took (or queued) every due job it could; a due job still waiting belongs to a
    /// queue or handler it does not serve, and waking for it would only spin.
    public func nextRunAt() async throws -> Micros? {
        let now = self.now
        return try await read { db in try Self.nextRunAt(db, after: now) }
    }

    /// The earliest `run_at` after `now` of a scheduled or retrying job.
    static func nextRunAt(_ db: Database, after now: Micros) throws -> Micros? {
        let scheduled = try Micros.fetchOne(
            db.cachedStatement(sql: "SELECT min(run_at) FROM jobs INDEXED BY jobs_scheduled WHERE state = 'scheduled' AND run_at > ?"),
            arguments: [now])
        // The redundant OR term lets SQLite use the partial index jobs_ready.
        let retrying = try Micros.fetchOne(
            db.cachedStatement(
                sql: "SELECT min(run_at) FROM jobs INDEXED BY jobs_ready WHERE (state = 'queued' OR state = 'retrying') AND state = 'retrying' AND run_at > ?"),
            arguments: [now])
        return [scheduled, retrying].compactMap { $0 }.min()
    }

    /// SQLite's `data_version`: changes when another connection commits. Cheap: no disk read when unchanged.
    public func dataVersion() async throws -> Int64 {
        try await read { db in try Int64.fetchOne(db, sql: "PRAGMA data_version") ?? 0 }
    }

    /// Workers that hold running jobs, by id (registered or not).
    public func workersHoldingJobs() async throws -> [String] {
        try await read { db in
            try String.fetchAll(db, sql: "SELECT DISTINCT worker_id FROM jobs WHERE state = 'running' AND worker_id IS NOT NULL")
        }
    }

    /// Running jobs of `worker` that an operator asked to cancel.
    public func cancelRequests(worker: String) async throws -> [Int64] {
        try await read { db in
            try Int64.fetchAll(db, sql: """
                SELECT id FROM jobs WHERE state = 'running' AND worker_id = ? AND cancel_requested_at IS NOT NULL
                """, arguments: [worker])
        }
    }

    /// A registered worker, live or stopped, or nil.
    public func workerRecord(_ id: String) async throws -> WorkerRecord? {
        try await read { db in
            try Row.fetchOne(db, sql: "SELECT * FROM workers WHERE id = ?", arguments: [id]).map { try WorkerRecord(row: $0) }
        }
    }
}

extension Journal {
    /// Handlers of waiting (queued or retrying) jobs that are not in `loaded`.
    public func waitingHandlers(notIn loaded: Set<String>) async throws -> [String] {
        try await read { db in
            try String.fetchAll(db, sql: "SELECT DISTINCT handler FROM jobs INDEXED BY jobs_ready WHERE state = 'queued' OR state = 'retrying'")
                .filter { !loaded.contains($0) }
                .sorted()
        }
    }
}

extension Journal {
    /// How many of `ids` are waiting to run or running (queued, interrupted, running).
    public func unfinishedCount(of ids: [Int64]) async throws -> Int {
        guard !ids.isEmpty else { return 0 }
        return try await read { db in
            try Int.fetchOne(db, sql: """
                SELECT count(*) FROM jobs
                WHERE id IN \(IDList.sql) AND state IN ('queued', 'interrupted', 'running')
                """, arguments: [IDList(ids).json]) ?? 0
        }
    }
}

extension Journal {
    /// Waiting (queued or retrying) jobs per handler, most first: shows jobs no loaded plugin can run.
    public func waitingByHandler() async throws -> [(handler: String, count: Int)] {
        try await read { db in
            try Row.fetchAll(db, sql: """
                SELECT handler, count(*) FROM jobs INDEXED BY jobs_ready WHERE state = 'queued' OR state = 'retrying'
                GROUP BY handler ORDER BY count(*) DESC, handler
                """).map { (try $0.decode(String.self, atIndex: 0), try $0.decode(Int.self, atIndex: 1)) }
        }
    }
}
