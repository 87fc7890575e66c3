import WorkerStore
import GRDB

extension Journal {
    /// Unfinished jobs (scheduled, queued, running, retrying, interrupted) and dead jobs per queue and state.
    /// Each query names its partial index (and repeats its WHERE terms), so the cost follows those jobs, not the
    /// history: the lookup indexes on queue and handler would otherwise tempt the planner into a walk of them all.
    public func depth() async throws -> [QueueDepth] {
        try await counts(Self.depthParts)
    }

    /// Jobs per queue and state for every state but `completed` (see `JobStore.countsExceptCompleted`): the parts of
    /// `depth()` and the cancelled jobs through jobs_cancelled.
    public func countsExceptCompleted() async throws -> [String: [JobState: Int]] {
        try await counts(Self.depthParts + [("jobs_cancelled", "state = 'cancelled'")]).reduce(into: [:]) { counts, depth in
            counts[depth.queue, default: [:]][depth.state] = depth.count
        }
    }

    /// The partial indexes `depth()` counts through, with their WHERE terms.
    private static let depthParts = [
        ("jobs_ready", "state = 'queued' OR state = 'retrying'"), ("jobs_interrupted", "state = 'interrupted'"),
        ("jobs_scheduled", "state = 'scheduled'"), ("jobs_running", "state = 'running'"), ("jobs_dead", "state = 'dead'"),
    ]

    /// Jobs per queue and state of each part (a partial index and its WHERE terms), by queue and state.
    private func counts(_ parts: [(String, String)]) async throws -> [QueueDepth] {
        try await read { db in
            var depths: [QueueDepth] = []
            for (index, condition) in parts {
                let sql = "SELECT queue, state, count(*) FROM jobs INDEXED BY \(index) WHERE \(condition) GROUP BY queue, state"
                for row in try Row.fetchAll(db, sql: sql) {
                    guard let state = JobState(rawValue: try row.decode(String.self, atIndex: 1)) else { continue }
                    depths.append(QueueDepth(queue: try row.decode(atIndex: 0), state: state, count: try row.decode(atIndex: 2)))
                }
            }
            return depths.sorted { ($0.queue, $0.state.rawValue) < ($1.queue, $1.state.rawValue) }
        }
    }

    /// Per queue, how long its oldest queued job has been ready to run (since its `run_at`), in seconds, read
    /// through the index of ready jobs: how long the queue keeps work waiting.
    public func oldestQueuedAge() async throws -> [String: Double] {
        let now = self.now
        return try await read { db in
            var oldest: [String: Double] = [:]
            for row in try Row.fetchAll(db, sql: """
                SELECT queue, min(run_at) FROM jobs INDEXED BY jobs_ready WHERE (state = 'queued' OR state = 'retrying') AND state = 'queued'
                GROUP BY queue
                """) {
                let since: Micros = try row.decode(atIndex: 1)
                oldest[try row.decode(String.self, atIndex: 0)] = Double(max(0, now - since)) / 1e6
            }
            return oldest
        }
    }

    /// Everything `worker status` shows, from one read snapshot. Counting finished jobs reads the whole table.
    public func overview() async throws -> Overview {
        let now = self.now
        return try await read { db in
            var counts: [String: [JobState: Int]] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT queue, state, count(*) FROM jobs GROUP BY queue, state") {
                guard let state = JobState(rawValue: try row.decode(String.self, atIndex: 1)) else { continue }
                counts[try row.decode(String.self, atIndex: 0), default: [:]][state] = try row.decode(atIndex: 2)
            }
            var oldest: [String: Micros] = [:]
            for row in try Row.fetchAll(db, sql: "SELECT queue, min(run_at) FROM jobs INDEXED BY jobs_ready WHERE (state = 'queued' OR state = 'retrying') AND state = 'queued' GROUP BY queue") {
                oldest[try row.decode(String.self, atIndex: 0)] = try row.decode(atIndex: 1)
            }
            let workers = try Row.fetchAll(db, sql: "SELECT * FROM workers WHERE stopped_at IS NULL ORDER BY started_at")
                .map { try WorkerRecord(row: $0) }
            return Overview(counts: counts, workers: workers, oldestQueued: oldest, at: now)
        }
    }
}
