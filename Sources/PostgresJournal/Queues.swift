import PostgresNIO
import WorkerStore

extension PostgresJournal {
    /// Changes `queue`'s settings, the audit row naming `origin` (see `JobStore.edit(queue:_:by:)`).
    public func edit(queue: String, _ edit: QueueEdit, by origin: ChangeOrigin) async throws -> QueueSettings {
        try edit.validate(queue: queue)
        let settings = try await changeQueue(queue, edit, origin: origin)
        if edit.mayFreeJobs { announceNewWork() }
        return settings
    }

    /// The settings of every queue an operator set something on.
    public func queueSettings() async throws -> [QueueSettings] {
        try await rows("SELECT \(unescaped: QueueSettings.pgColumns) FROM queues ORDER BY name").map(QueueSettings.init(postgres:))
    }

    /// Reads `queue`'s settings under a row lock, applies `edit`, and writes them with their audit event
    /// when they changed, waking idle workers (`NOTIFY`): one transaction.
    private func changeQueue(_ queue: String, _ edit: QueueEdit, origin: ChangeOrigin) async throws -> QueueSettings {
        let action = edit.action
        let pid = options.pid
        return try await transaction("queue") { connection in
            let now = try await connection.query("SELECT worker_micros()", logger: self.logger).collect().first!.decode(Int64.self)
            let found = try await connection.query(
                "SELECT \(unescaped: QueueSettings.pgColumns) FROM queues WHERE name = \(queue) FOR UPDATE", logger: self.logger
            ).collect().first
            let before = try found.map(QueueSettings.init(postgres:)) ?? QueueSettings(name: queue)
            var after = edit.applied(to: before, at: now)
            guard after != before else { return before }
            after.updatedAt = now
            let rateLimit = after.rate.map { Int64($0.limit) }
            let window = after.rate?.window.journalMilliseconds
            let concurrency = after.concurrency.map(Int64.init)
            let perKey = after.perKeyConcurrency.map(Int64.init)
            let timeout = after.timeout?.journalMilliseconds
            let resetRate = after.rate != before.rate
            _ = try await connection.query("""
                WITH saved AS (
                    INSERT INTO queues (name, paused_at, concurrency, rate_limit, rate_window_ms, per_key_concurrency, timeout_ms, updated_at)
                    VALUES (\(queue), \(after.pausedAt)::bigint, \(concurrency)::int, \(rateLimit)::int, \(window)::bigint, \(perKey)::int,
                            \(timeout)::bigint, \(now)::bigint)
                    ON CONFLICT (name) DO UPDATE SET paused_at = excluded.paused_at, concurrency = excluded.concurrency,
                        rate_limit = excluded.rate_limit, rate_window_ms = excluded.rate_window_ms,
                        per_key_concurrency = excluded.per_key_concurrency, timeout_ms = excluded.timeout_ms, updated_at = excluded.updated_at
                    RETURNING name),
                reset AS (DELETE FROM queue_starts WHERE \(resetRate)::bool AND queue = \(queue)::text),
                audit AS (
                    INSERT INTO queue_events (queue, at, action, detail, pid, origin)
                    VALUES (\(queue)::text, \(now)::bigint, \(action.rawValue)::text, \(after.auditDetail(action))::text, \(pid)::int,
                            \(origin.description)::text))
                SELECT pg_notify(\(unescaped: "'\(PostgresJournal.wakeChannel)'"), 'queue') FROM saved
                """, logger: self.logger).collect()
            return after
        }
    }
}

extension QueueSettings {
    /// The columns `init(postgres:)` reads, in order.
    static let pgColumns = "name, paused_at, concurrency, rate_limit, rate_window_ms, per_key_concurrency, timeout_ms, updated_at"

    /// Settings from a row of `pgColumns`.
    init(postgres row: PostgresRow) throws {
        let (name, pausedAt, concurrency, rateLimit, window, perKey, timeout, updatedAt) =
            try row.decode((String, Int64?, Int32?, Int32?, Int64?, Int32?, Int64?, Int64).self)
        self.init(
            name: name, pausedAt: pausedAt, concurrency: concurrency.map(Int.init),
            rate: rateLimit.flatMap { limit in window.map { QueueRate(limit: Int(limit), window: .milliseconds($0)) } },
            perKeyConcurrency: perKey.map(Int.init), timeout: timeout.map { .milliseconds($0) }, updatedAt: updatedAt)
    }
}
