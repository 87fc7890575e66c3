import WorkerStore
import GRDB

extension Journal {
    /// What the claim at `now` may start from each queue with a pause or a limit (of `queues`, empty: all), counted
    /// in the claim's transaction, under the write lock: no other claim can take a slot meanwhile. Prunes the rate
    /// windows' logs. Without settings, one look at the `queues` table.
    static func claimBudgets(_ db: Database, now: Micros, queues: [String]) throws -> ClaimBudgets {
        var budgets = ClaimBudgets()
        let controlled = try Row.fetchAll(db.cachedStatement(sql: """
            SELECT name, paused_at, concurrency, rate_limit, rate_window_ms, per_key_concurrency FROM queues
            WHERE paused_at IS NOT NULL OR concurrency IS NOT NULL OR rate_limit IS NOT NULL OR per_key_concurrency IS NOT NULL
            """))
        for row in controlled {
            let name: String = try row.decode(atIndex: 0)
            if !queues.isEmpty && !queues.contains(name) { continue }
            let perKey: Int? = try row.decode(atIndex: 5)
            let rateLimit: Int? = try row.decode(atIndex: 3)
            if try row.decode(Micros?.self, atIndex: 1) != nil {
                budgets.add(queue: name, paused: true, budget: 0, perKey: perKey, lastStart: nil, fullUntil: nil)
                continue
            }
            var budget: Int?
            var fullUntil: Micros?
            var lastStart: Int64?
            if let concurrency: Int = try row.decode(atIndex: 2) {
                // Through the index of running jobs (few), not the queue's (its whole history).
                let running = try Int.fetchOne(
                    db.cachedStatement(sql: "SELECT count(*) FROM jobs INDEXED BY jobs_running WHERE state = 'running' AND queue = ?"),
                    arguments: [name]) ?? 0
                budget = concurrency - running
            }
            if let rateLimit, let windowMs: Int64 = try row.decode(atIndex: 4) {
                let since = now - windowMs * 1000
                try db.cachedStatement(sql: "DELETE FROM queue_starts WHERE queue = ? AND at <= ?").execute(arguments: [name, since])
                // Starts are counted per queue (`seq`: the count after each claim's `n`) and pruned from the oldest.
                let before = try Int64.fetchOne(
                    db.cachedStatement(sql: "SELECT seq - n FROM queue_starts WHERE queue = ? ORDER BY seq LIMIT 1"), arguments: [name])
                let last = try Int64.fetchOne(
                    db.cachedStatement(sql: "SELECT max(seq) FROM queue_starts WHERE queue = ?"), arguments: [name]) ?? 0
                let started = before.map { Int(last - $0) } ?? 0
                lastStart = last
                budget = min(budget ?? Int.max, rateLimit - started)
                if started >= rateLimit {  // full: a slot frees when the start `rateLimit` back leaves the window
                    let due = try Micros.fetchOne(
                        db.cachedStatement(sql: "SELECT at FROM queue_starts WHERE queue = ? AND seq >= ? ORDER BY seq LIMIT 1"),
                        arguments: [name, last - Int64(rateLimit) + 1])
                    fullUntil = due.map { $0 + windowMs * 1000 }
                }
            }
            budgets.add(queue: name, paused: false, budget: budget, perKey: perKey, lastStart: lastStart, fullUntil: fullUntil)
            if perKey != nil, budget.map({ $0 > 0 }) ?? true {
                for key in try Row.fetchAll(
                    db.cachedStatement(sql: """
                        SELECT concurrency_key, count(*) FROM jobs INDEXED BY jobs_running
                        WHERE state = 'running' AND queue = ? AND concurrency_key IS NOT NULL GROUP BY concurrency_key
                        """),
                    arguments: [name]) {
                    budgets.add(running: try key.decode(atIndex: 1), key: try key.decode(atIndex: 0), queue: name)
                }
            }
        }
        return budgets
    }

    /// SQL terms (`AND ...`) refusing the jobs of blocked queues and keys, and their arguments.
    static func exclusions(_ budgets: ClaimBudgets) -> (sql: String, arguments: StatementArguments) {
        var sql = ""
        var arguments: StatementArguments = []
        let queues = budgets.blockedQueues
        if !queues.isEmpty {
            sql += " AND queue NOT IN (\(databaseQuestionMarks(count: queues.count)))"
            arguments += StatementArguments(queues)
        }
        let keys = budgets.blockedKeys
        if !keys.isEmpty {
            sql += " AND (concurrency_key IS NULL OR (queue, concurrency_key) NOT IN (VALUES "
                + Array(repeating: "(?, ?)", count: keys.count).joined(separator: ", ") + "))"
            for key in keys { arguments += [key.queue, key.key] }
        }
        return (sql, arguments)
    }

    /// Picks up to `want` jobs in claim order from `sql` (a claim query ending in `id NOT IN` the picked ids and
    /// its order, without a limit) that the budgets admit. When a queue or key runs out, the query runs again
    /// without its jobs, instead of stepping over all of them: nothing of another queue is passed over.
    static func pickWithinBudgets(
        _ db: Database, sql: (String) -> String, arguments: (StatementArguments) -> StatementArguments, want: Int,
        budgets: inout ClaimBudgets, picked: inout [Row]
    ) throws {
        var left = want
        while left > 0 {
            let (terms, excluded) = exclusions(budgets)
            let ids = IDList(try picked.map { try $0.decode(Int64.self, forColumn: "id") }).json
            let rows = try Row.fetchCursor(db.cachedStatement(sql: sql(terms)), arguments: arguments(excluded) + [ids])
            var ranOut = false
            while left > 0, let row = try rows.next() {
                if budgets.admit(queue: try row.decode(atIndex: 3), key: try row.decode(atIndex: 4)) {
                    picked.append(row.copy())
                    left -= 1
                } else {
                    ranOut = true
                    break
                }
            }
            if !ranOut { return }
        }
    }

    /// Logs the starts of `jobs` in rate-limited queues: one row per queue, counted on from its last.
    static func logStarts(_ db: Database, _ jobs: [Job], budgets: ClaimBudgets, now: Micros) throws {
        guard !budgets.lastStart.isEmpty else { return }
        var started: [String: Int64] = [:]
        for job in jobs where budgets.lastStart[job.queue] != nil { started[job.queue, default: 0] += 1 }
        for (queue, n) in started {
            try db.cachedStatement(sql: "INSERT INTO queue_starts (queue, seq, at, n) VALUES (?, ?, ?, ?)")
                .execute(arguments: [queue, budgets.lastStart[queue]! + n, now, n])
        }
    }
}
