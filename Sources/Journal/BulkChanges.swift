import WorkerStore
import GRDB

extension Journal {
    /// Jobs a bulk change takes in one transaction: the write lock is never held for long (as in prune).
    public static let bulkBatchSize = 500

    /// Reads which jobs matching `filter` (its selecting terms; not its limit, order or cursor) `change` would
    /// act on and which it would skip.
    public func plan(_ change: BulkChange, _ filter: JobFilter) async throws -> BulkPlan {
        try await read { db in
            let ceiling = try Int64.fetchOne(db, sql: "SELECT max(id) FROM jobs") ?? 0
            var (conditions, arguments) = filter.terms()
            conditions.append("jobs.id <= ?")
            arguments += [ceiling]
            var plan = BulkPlan(change: change, filter: filter, accepted: [], skipped: [:], ceiling: ceiling)
            // Through the state's partial index, if any: a plan reads every match, never the whole history for a few.
            let indexed = filter.unorderedStateIndex.map { " INDEXED BY \($0.name)" } ?? ""
            let rows = try Row.fetchCursor(
                db, sql: "SELECT jobs.id, jobs.state FROM jobs\(indexed) WHERE \(conditions.joined(separator: " AND ")) ORDER BY jobs.id",
                arguments: arguments)
            while let row = try rows.next() {
                let name: String = row[1]
                guard let state = JobState(rawValue: name) else {
                    throw JournalError(.corrupt, "job \(row[0] as Int64) has unknown state '\(name)'")
                }
                if change.accepts(state) {
                    plan.accepted.append((row[0], state))
                } else {
                    plan.skipped[name, default: 0] += 1
                }
            }
            return plan
        }
    }

    /// Carries out `plan`, `bulkBatchSize` jobs per transaction. Each job is read again under the write lock and
    /// changed only when it still matches the filter and the change still accepts it, exactly as the single-job
    /// command changes it (with the same journal event, `reason` naming the bulk action); a job that moved on
    /// meanwhile (a worker claimed it, another operator retried it) is skipped. `progress` gets the jobs done.
    public func apply(_ plan: BulkPlan, reason: String, progress: (Int) -> Void = { _ in }) async throws -> BulkResult {
        let pid = options.pid
        let result = try await plan.inBatches(of: Self.bulkBatchSize, progress: progress) { slice in
            let ids = IDList(slice)
            let now = self.now
            return try await bulkTransaction(plan.change) { db in
                var (conditions, arguments) = plan.filter.terms()
                conditions.append("jobs.id IN \(IDList.sql)")
                arguments += [ids.json]
                let jobs = try Row.fetchAll(
                    db, sql: "SELECT \(Job.columns) FROM \(Job.from) WHERE \(conditions.joined(separator: " AND ")) ORDER BY jobs.id",
                    arguments: arguments
                ).map(Job.init(row:))
                var batch = BulkResult()
                for job in jobs {
                    do {
                        switch plan.change {
                        case .retry:
                            try Self.retry(db, job, at: now, pid: pid, reason: reason)
                            batch.changed += 1
                        case .cancel:
                            switch try Self.cancel(db, job, at: now, pid: pid, reason: reason) {
                            case .cancelled: batch.changed += 1
                            case .requested: batch.requested += 1
                            case .alreadyCancelled: batch.skipped[JobState.cancelled.rawValue, default: 0] += 1
                            }
                        }
                    } catch let error as JournalError where error.code == .illegalTransition {
                        batch.skipped[job.state.rawValue, default: 0] += 1
                    } catch let error as JournalError where error.code == .uniqueKeyConflict {
                        batch.skipped["key in use", default: 0] += 1
                    }
                }
                let gone = slice.count - jobs.count
                if gone > 0 { batch.skipped["changed meanwhile", default: 0] += gone }
                return batch
            }
        }
        if plan.change == .retry && result.changed > 0 { announceNewWork() }
        return result
    }

    /// One batch's transaction, labelled by the change (`FaultInjection` and `CrashPointTests` find write points
    /// by their literal label).
    private func bulkTransaction(
        _ change: BulkChange, _ body: @escaping @Sendable (Database) throws -> BulkResult
    ) async throws -> BulkResult {
        switch change {
        case .retry: try await transaction("bulk-retry", body)
        case .cancel: try await transaction("bulk-cancel", body)
        }
    }
}
