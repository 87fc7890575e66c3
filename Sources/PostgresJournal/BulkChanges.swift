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
    public func apply(_ plan: BulkPlan, reason: String, progress: (Int) -> Void = { _ in }) async throws -> BulkResult {
        let result = try await plan.inBatches(of: Self.bulkBatchSize, progress: progress) { ids in
            try await applyBatch(plan, ids: ids, reason: reason)
        }
        if plan.change == .retry && result.changed > 0 { announceNewWork() }
        return result
    }

    /// One batch in one transaction. A retry whose key a producer took meanwhile fails on the key's index
    /// (`uniqueKeyConflict`): the batch runs again, and then skips that job as `key in use`.
    private func applyBatch(_ plan: BulkPlan, ids: [Int64], reason: String) async throws -> BulkResult {
        let pid = options.pid
        let logger = self.logger
        return try await againOnKeyRace {
            try await bulkTransaction(plan.change) { connection in
                var conditions = plan.filter.pgWhere()
                conditions.add("jobs.id = ANY(\(conditions.bind(ids))::bigint[])")
                let jobs = try await PGJobChanges.lock(connection, conditions, logger: logger)
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
                let gone = ids.count - jobs.count
                if gone > 0 { batch.skipped["changed meanwhile", default: 0] += gone }
                return batch
            }
        }
    }

    /// One batch's transaction, labelled by the change (`FaultInjection` finds write points by their literal
    /// label).
    private func bulkTransaction(
        _ change: BulkChange, _ body: @escaping @Sendable (PostgresConnection) async throws -> BulkResult
    ) async throws -> BulkResult {
        switch change {
        case .retry: try await transaction("bulk-retry", body)
        case .cancel: try await transaction("bulk-cancel", body)
        }
    }
}
