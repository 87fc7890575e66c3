import WorkerStore
import GRDB

extension Journal {
    /// Atomically moves up to `limit` jobs to `running` under `worker` and returns them in claim order:
    /// interrupted jobs first, then by priority (high first), run_at, id. Due scheduled jobs are queued first.
    ///
    /// Two processes claiming at once never get the same job: the claim is one immediate transaction. Its time
    /// is read under the write lock, so every job enqueued by a transaction committed before it is due in it (read
    /// before, a claim that waited for the lock passed over a job enqueued meanwhile, for lower-priority ones).
    public func claim(_ request: ClaimRequest) async throws -> [Job] {
        guard request.limit + request.ahead > 0 else { return [] }
        let clock = options.clock
        let pid = options.pid
        return try await transaction("claim") { db in
            var nextSlot: Micros?
            return try Self.claim(db, request, now: clock.now(), pid: pid, nextSlot: &nextSlot)
        }
    }

    /// Records `finished` outcomes and claims new jobs in one transaction: a worker loop's round costs one commit.
    public func finishAndClaim(finished: [(job: Int64, outcome: JobOutcome)], claim request: ClaimRequest) async throws -> RoundResult {
        let unstamped = FinishContext(journal: self)
        let clock = options.clock
        let pid = options.pid
        return try await transaction("exchange") { db in
            let context = unstamped.at(clock.now())  // under the write lock, as in `claim`
            let results = try context.applyAll(db, finished, worker: request.worker)
            let wanted = request.limit + request.ahead > 0
            var nextSlot: Micros?
            let claimed = wanted ? try Self.claim(db, request, now: context.now, pid: pid, nextSlot: &nextSlot) : []
            // Held back by a full rate window only, a worker waits for it to free a slot, not for a commit.
            let next = wanted && claimed.isEmpty
                ? [try Self.nextRunAt(db, after: context.now), nextSlot].compactMap { $0 }.min() : nil
            return RoundResult(finished: results, claimed: claimed, nextRunAt: next)
        }
    }

    /// Claims as `claim(_:)` says, honouring the queues' pauses and limits (`ClaimBudgets`); `nextSlot` is when a
    /// full rate window frees a slot, if one holds jobs back.
    static func claim(_ db: Database, _ request: ClaimRequest, now: Micros, pid: Int32, nextSlot: inout Micros?) throws -> [Job] {
        try Self.requireLive(db, worker: request.worker)
        try Self.promoteDue(db, now: now, pid: pid)
        var budgets = try claimBudgets(db, now: now, queues: request.queues)
        nextSlot = budgets.nextSlotAt
        let claimed = budgets.isEmpty
            ? try claim(db, request, now: now, pid: pid)
            : try claimWithinBudgets(db, request, now: now, pid: pid, budgets: &budgets)
        try logStarts(db, claimed, budgets: budgets, now: now)
        return claimed
    }

    /// The claim of a journal whose queues (those `request` may take from) have no pause and no limit.
    private static func claim(_ db: Database, _ request: ClaimRequest, now: Micros, pid: Int32) throws -> [Job] {
        guard let (filter, filterArguments) = claimFilter(request) else { return [] }
        let order = " ORDER BY priority DESC, run_at, id LIMIT ?"
        // Each claim query names its partial index: with the lookup indexes on handler and queue (migration 0005)
        // the planner would otherwise walk every job of a handler or queue, the finished ones included.
        if request.isolateSuspects {
            let suspect = try Row.fetchAll(
                db.cachedStatement(sql: "SELECT id, state, handler FROM jobs INDEXED BY jobs_interrupted WHERE state = 'interrupted' AND crashes >= ?" + filter + order),
                arguments: [request.suspectCrashes] + filterArguments + [1])
            if !suspect.isEmpty {
                // A suspect waits for this worker to be idle, and then runs alone: nothing else is claimed meanwhile,
                // not even ahead.
                if request.busy || request.limit == 0 { return [] }
                return try take(db, suspect, request, now: now, pid: pid)
            }
        }
        // In claim order: interrupted first, then by priority, run_at, id. The first `limit` fill free slots,
        // whatever their handler; the reserve takes the jobs after them only while they are of `aheadHandlers`,
        // so a job that is not short is never passed over: the reserve stops in front of it.
        let wanted = request.limit + request.ahead
        guard wanted > 0 else { return [] }
        var picked = try Row.fetchAll(
            db.cachedStatement(sql: "SELECT id, state, handler FROM jobs INDEXED BY jobs_interrupted WHERE state = 'interrupted'" + filter + order),
            arguments: filterArguments + [wanted])
        if picked.count < wanted {
            picked += try Row.fetchAll(
                db.cachedStatement(
                    sql: "SELECT id, state, handler FROM jobs INDEXED BY jobs_ready WHERE (state = 'queued' OR state = 'retrying') AND run_at <= ?" + filter + order),
                arguments: [now] + filterArguments + [wanted - picked.count])
        }
        if picked.count > request.limit, let short = request.aheadHandlers.map(Set.init) {
            let ahead = try picked.dropFirst(request.limit).prefix { short.contains(try $0.decode(String.self, atIndex: 2)) }
            picked = Array(picked.prefix(request.limit)) + ahead
        }
        return try take(db, picked, request, now: now, pid: pid)
    }

    /// The claim as `claim(db, request, ...)` makes it, where some queues have a pause or a limit: jobs of a blocked
    /// queue or key are left out by the queries, and each job picked is counted against its budgets, in claim
    /// order, so that a job held back is never passed over by a later one of the same queue (of the same key, for
    /// the per-key limit). Held-back jobs stay `queued`.
    private static func claimWithinBudgets(
        _ db: Database, _ request: ClaimRequest, now: Micros, pid: Int32, budgets: inout ClaimBudgets
    ) throws -> [Job] {
        guard let (filter, filterArguments) = claimFilter(request) else { return [] }
        let columns = "SELECT id, state, handler, queue, concurrency_key FROM jobs"
        let order = " AND id NOT IN \(IDList.sql) ORDER BY priority DESC, run_at, id"
        var picked: [Row] = []
        if request.isolateSuspects {
            try pickWithinBudgets(
                db, sql: { "\(columns) INDEXED BY jobs_interrupted WHERE state = 'interrupted' AND crashes >= ?" + filter + $0 + order },
                arguments: { [request.suspectCrashes] + filterArguments + $0 }, want: 1, budgets: &budgets, picked: &picked)
            if !picked.isEmpty {
                if request.busy || request.limit == 0 { return [] }  // as in the claim without limits
                return try take(db, picked, request, now: now, pid: pid)
            }
        }
        let wanted = request.limit + request.ahead
        try pickWithinBudgets(
            db, sql: { "\(columns) INDEXED BY jobs_interrupted WHERE state = 'interrupted'" + filter + $0 + order },
            arguments: { filterArguments + $0 }, want: wanted, budgets: &budgets, picked: &picked)
        if picked.count < wanted {
            try pickWithinBudgets(
                db,
                sql: { "\(columns) INDEXED BY jobs_ready WHERE (state = 'queued' OR state = 'retrying') AND run_at <= ?" + filter + $0 + order },
                arguments: { [now] + filterArguments + $0 }, want: wanted - picked.count, budgets: &budgets, picked: &picked)
        }
        if picked.count > request.limit, let short = request.aheadHandlers.map(Set.init) {
            let ahead = try picked.dropFirst(request.limit).prefix { short.contains(try $0.decode(String.self, atIndex: 2)) }
            picked = Array(picked.prefix(request.limit)) + ahead
        }
        return try take(db, picked, request, now: now, pid: pid)
    }

    /// The SQL terms (`AND ...`) and arguments of `request`'s queue, handler and id filters; nil when it can match
    /// nothing.
    private static func claimFilter(_ request: ClaimRequest) -> (String, StatementArguments)? {
        var filter = ""
        var filterArguments: StatementArguments = []
        if !request.queues.isEmpty {
            filter += " AND queue IN (\(databaseQuestionMarks(count: request.queues.count)))"
            filterArguments += StatementArguments(request.queues)
        }
        if let handlers = request.handlers {
            if handlers.isEmpty { return nil }
            filter += " AND handler IN (\(databaseQuestionMarks(count: handlers.count)))"
            filterArguments += StatementArguments(handlers)
        }
        if let ids = request.ids {
            if ids.isEmpty { return nil }
            filter += " AND id IN \(IDList.sql)"  // one parameter: a resume may name more jobs than SQLite allows parameters
            filterArguments += [IDList(ids).json]
        }
        return (filter, filterArguments)
    }

    /// Moves the picked jobs (rows of id, state, handler) to `running` under the requesting worker.
    private static func take(_ db: Database, _ picked: [Row], _ request: ClaimRequest, now: Micros, pid: Int32) throws -> [Job] {
        guard !picked.isEmpty else { return [] }
        let ids: [Int64] = try picked.map { try $0.decode(forColumn: "id") }
        let idList = IDList(ids).json
        // Events first, while `state` still holds where each job comes from; then the jobs; all set-based.
        // Every picked state (queued, retrying, interrupted) may legally move to running.
        try db.cachedStatement(sql: """
            INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker_id, pid, reason)
            SELECT id, ?, state, 'running', attempts + 1, ?, ?,
                   CASE state WHEN 'interrupted' THEN 'resumed' ELSE 'claimed' END
            FROM jobs WHERE id IN \(IDList.sql) ORDER BY id
            """).execute(arguments: [now, request.worker, Int64(pid), idList])
        try db.cachedStatement(sql: """
            UPDATE jobs SET state = 'running', attempts = attempts + 1, worker_id = ?, updated_at = ?,
                   cancel_requested_at = NULL
            WHERE id IN \(IDList.sql)
            """).execute(arguments: [request.worker, now, idList])
        let claimedHandlers = Set(try picked.map { try $0.decode(String.self, atIndex: 2) })
        for handler in claimedHandlers {
            guard let plugin = request.plugins[handler] else { continue }
            try db.cachedStatement(sql: """
                UPDATE jobs SET plugin_name = ?, plugin_version = ?, plugin_sha256 = ?
                WHERE handler = ? AND id IN \(IDList.sql)
                """).execute(arguments: [plugin.name, plugin.version, plugin.sha256, handler, idList])
        }
        // A cursor decodes each row in place (fetchAll would copy every row first).
        let rows = try Row.fetchCursor(
            db.cachedStatement(sql: "SELECT \(Job.columns) FROM \(Job.from) WHERE jobs.id IN \(IDList.sql)"),
            arguments: [idList])
        var byID: [Int64: Job] = [:]
        byID.reserveCapacity(ids.count)
        while let row = try rows.next() {
            let job = try Job(row: row)
            byID[job.id] = job
        }
        return ids.compactMap { byID[$0] }
    }

    static func requireLive(_ db: Database, worker: String) throws {
        let live = try Bool.fetchOne(
            db.cachedStatement(sql: "SELECT 1 FROM workers WHERE id = ? AND stopped_at IS NULL"), arguments: [worker])
        guard live == true else {
            throw JournalError(.workerNotRegistered, "worker \(worker) is not registered as live: register it before claiming")
        }
    }

    /// Moves scheduled jobs whose time has come to `queued`.
    static func promoteDue(_ db: Database, now: Micros, pid: Int32) throws {
        let due = try Row.fetchAll(
            db.cachedStatement(sql: "SELECT id, attempts FROM jobs INDEXED BY jobs_scheduled WHERE state = 'scheduled' AND run_at <= ? ORDER BY run_at LIMIT 1000"),
            arguments: [now])
        for row in due {
            let id: Int64 = try row.decode(forColumn: "id")
            try db.cachedStatement(sql: "UPDATE jobs SET state = 'queued', updated_at = ? WHERE id = ?").execute(arguments: [now, id])
            try Events.append(
                db, jobID: id, at: now, from: .scheduled, to: .queued, attempt: try row.decode(forColumn: "attempts"), worker: nil, pid: pid,
                reason: "due")
        }
    }
}
