import WorkerStore
import GRDB

extension Journal {
    /// Changes `queue`'s settings, the audit row naming `origin` (see `JobStore.edit(queue:_:by:)`).
    public func edit(queue: String, _ edit: QueueEdit, by origin: ChangeOrigin) async throws -> QueueSettings {
        try edit.validate(queue: queue)
        let settings = try await changeQueue(queue, edit, origin: origin)
        if edit.mayFreeJobs { announceNewWork() }
        return settings
    }

    /// The settings of every queue an operator set something on.
    public func queueSettings() async throws -> [QueueSettings] {
        try await read { db in try Row.fetchAll(db, sql: "SELECT * FROM queues ORDER BY name").map(QueueSettings.init(row:)) }
    }

    /// Reads `queue`'s settings, applies `edit`, and writes them with their audit event when they changed:
    /// one transaction.
    private func changeQueue(_ queue: String, _ edit: QueueEdit, origin: ChangeOrigin) async throws -> QueueSettings {
        let action = edit.action
        let clock = options.clock
        let pid = options.pid
        return try await transaction("queue") { db in
            let now = clock.now()
            let before = try Row.fetchOne(db, sql: "SELECT * FROM queues WHERE name = ?", arguments: [queue])
                .map(QueueSettings.init(row:)) ?? QueueSettings(name: queue)
            var after = edit.applied(to: before, at: now)
            guard after != before else { return before }
            after.updatedAt = now
            try db.execute(
                sql: """
                    INSERT INTO queues (name, paused_at, concurrency, rate_limit, rate_window_ms, per_key_concurrency, timeout_ms, updated_at)
                    VALUES (?, ?, ?, ?, ?, ?, ?, ?)
                    ON CONFLICT (name) DO UPDATE SET paused_at = excluded.paused_at, concurrency = excluded.concurrency,
                        rate_limit = excluded.rate_limit, rate_window_ms = excluded.rate_window_ms,
                        per_key_concurrency = excluded.per_key_concurrency, timeout_ms = excluded.timeout_ms, updated_at = excluded.updated_at
                    """,
                arguments: [
                    queue, after.pausedAt, after.concurrency, after.rate?.limit, after.rate?.window.journalMilliseconds,
                    after.perKeyConcurrency, after.timeout?.journalMilliseconds, now,
                ])
            if after.rate != before.rate {
                try db.execute(sql: "DELETE FROM queue_starts WHERE queue = ?", arguments: [queue])  // a new window starts empty
            }
            try db.execute(
                sql: "INSERT INTO queue_events (queue, at, action, detail, pid, origin) VALUES (?, ?, ?, ?, ?, ?)",
                arguments: [queue, now, action.rawValue, after.auditDetail(action), Int64(pid), origin.description])
            return after
        }
    }
}

extension QueueSettings {
    /// Settings from a row of `queues`.
    init(row: Row) throws {
        let rateLimit: Int? = try row.decode(forColumn: "rate_limit")
        let window: Int64? = try row.decode(forColumn: "rate_window_ms")
        let timeout: Int64? = try row.decode(forColumn: "timeout_ms")
        self.init(
            name: try row.decode(forColumn: "name"), pausedAt: try row.decode(forColumn: "paused_at"),
            concurrency: try row.decode(forColumn: "concurrency"),
            rate: rateLimit.flatMap { limit in window.map { QueueRate(limit: limit, window: .milliseconds($0)) } },
            perKeyConcurrency: try row.decode(forColumn: "per_key_concurrency"), timeout: timeout.map { .milliseconds($0) },
            updatedAt: try row.decode(forColumn: "updated_at"))
    }
}
