import Logging
import PostgresNIO
import WorkerStore

extension PostgresJournal {
    /// Jobs a bulk change takes in one transaction: row locks are never held for long (as in prune).
    public static let bulkBatchSize = 500

    /// Reads which jobs matching `filter` (its selecting terms; not its limit, order or cursor) `change` would
    /// act on and which it would skip.
    public func plan(_ change: BulkChange, _ filter: JobFilter) async throws -> BulkPlan {
        let conditions = filter.pgWhere()
        // One statement, one snapshot: the ceiling and the jobs under it are read together.
        let rows = try await self.rows(PostgresQuery(unsafeSQL: """
            WITH ceiling AS MATERIALIZED (SELECT COALESCE(max(id), 0) AS top FROM jobs)
            SELECT ceiling.top, jobs.id, jobs.state FROM ceiling
            LEFT JOIN jobs ON jobs.id <= ceiling.top AND \(conditions.conjunction)
            ORDER BY jobs.id
            """, binds: conditions.binds))
        var ceiling: Int64 = 0
        var accepted: [(id: Int64, state: JobState)] = []
        var skipped: [String: Int] = [:]
        for row in rows {
            let (top, id, name) = try row.decode((Int64, Int64?, String?).self)
            ceiling = top
            guard let id, let name else { continue }
            guard let state = JobState(rawValue: name) else {
                throw JournalError(.corrupt, "job \(id) has unknown state '\(name)'")
            }
            if change.accepts(state) {
                accepted.append((id, state))
            } else {
                skipped[name, default: 0] += 1
            }
        }
        let plan = BulkPlan(change: change, filter: filter, accepted: accepted, skipped: skipped, ceiling: ceiling)
        return plan
    }

    /// Carries out `plan`, `bulkBatchSize` jobs per transaction. Each job is read again under a row lock and
    /// changed only when it still matches the filter and the change still accepts it, exactly as the single-job
    /// command changes it (with the same journal event, `reason` naming the bulk action); a job that moved on
    /// meanwhile (a worker claimed it, another operator retried it) is skipped. `progress` gets the jobs done.
    ///
    /// A batch locks its jobs with `SKIP LOCKED`: one that waited on a row while holding hundreds could deadlock
    /// with a worker's round (which holds the jobs it claims and waits on the ones it finishes), and PostgreSQL
    /// would then abort one of the two. The jobs a batch found locked (in a round or another operator's change
    /// at that instant) are then changed one per transaction, each waiting for its row while holding no other.
    public func apply(_ plan: BulkPlan, reason: String, progress: (Int) -> Void = { _ in }) async throws -> BulkResult {
        let result = try await plan.inBatches(of: Self.bulkBatchSize, progress: progress) { ids in
            var (result, busy) = try await applyBatch(plan, ids: ids, reason: reason, skipLocked: true)
            for id in busy {
                let single = try await applyBatch(plan, ids: [id], reason: reason, skipLocked: false).result
                result.changed += single.changed
                result.requested += single.requested
                result.skipped.merge(single.skipped, uniquingKeysWith: +)
            }
            return result
        }
        if plan.change == .retry && result.changed > 0 { announceNewWork() }
        return result
    }

    /// One batch in one transaction. A retry whose key a producer took meanwhile fails on the key's index
    /// (`uniqueKeyConflict`): the batch runs again, and then skips that job as `key in use`.
    /// With `skipLocked`, returns the jobs of `ids` another transaction held, left for later (`busy`); else waits.
    private func applyBatch(
        _ plan: BulkPlan, ids: [Int64], reason: String, skipLocked: Bool
    ) async throws -> (result: BulkResult, busy: [Int64]) {
        let pid = options.pid
        let logger = self.logger
        return try await againOnKeyRace {
            try await bulkTransaction(plan.change) { connection in
                var conditions = plan.filter.pgWhere()
                conditions.add("jobs.id = ANY(\(conditions.bind(ids))::bigint[])")
                let jobs = try await PGJobChanges.lock(connection, conditions, skipLocked: skipLocked, logger: logger)
                var busy: [Int64] = []
                if skipLocked, jobs.count < ids.count {
                    // Left out: held by another transaction, or no longer matching the filter (changed meanwhile).
                    let locked = Set(jobs.map(\.id))
                    let missing = ids.filter { !locked.contains($0) }
                    var still = plan.filter.pgWhere()
                    still.add("jobs.id = ANY(\(still.bind(missing))::bigint[])")
                    busy = try await connection.query(still.query("SELECT jobs.id FROM \(Job.pgFrom)", " ORDER BY jobs.id"), logger: logger)
                        .collect().map { try $0.decode(Int64.self) }
                }
                var batch = BulkResult()
                let refusals: [Int64: JournalError]
                switch plan.change {
                case .retry:
                    refusals = try await PGJobChanges.retry(connection, jobs, pid: pid, reason: reason, logger: logger)
                    batch.changed = jobs.count - refusals.count
                case .cancel:
                    let (outcomes, refused) = try await PGJobChanges.cancel(connection, jobs, pid: pid, reason: reason, logger: logger)
                    refusals = refused
                    for outcome in outcomes.values {
                        switch outcome {
                        case .cancelled: batch.changed += 1
                        case .requested: batch.requested += 1
                        case .alreadyCancelled: batch.skipped[JobState.cancelled.rawValue, default: 0] += 1
                        }
                    }
                }
                for job in jobs {
                    switch refusals[job.id]?.code {
                    case .illegalTransition?: batch.skipped[job.state.rawValue, default: 0] += 1
                    case .uniqueKeyConflict?: batch.skipped["key in use", default: 0] += 1
                    default: break
                    }
                }
                let gone = ids.count - jobs.count - busy.count
                if gone > 0 { batch.skipped["changed meanwhile", default: 0] += gone }
                return (batch, busy)
            }
        }
    }

    /// One batch's transaction, labelled by the change (`FaultInjection` finds write points by their literal
    /// label).
    private func bulkTransaction<T: Sendable>(
        _ change: BulkChange, _ body: @escaping @Sendable (PostgresConnection) async throws -> T
    ) async throws -> T {
        switch change {
        case .retry: try await transaction("bulk-retry", body)
        case .cancel: try await transaction("bulk-cancel", body)
        }
    }
}
