import WorkerStore
import GRDB

extension Journal {
    /// Enqueues one job and returns it (the existing one when its unique key is taken).
    public func enqueue(_ job: NewJob) async throws -> (job: Job, created: Bool) {
        try await JournalError.alone {
            let context = try prepare([job])
            let result = try await transaction("enqueue") { db in
                let result = try context.insert(db)[0]
                return (try Job.require(db, id: result.id), result.created)
            }
            announceNewWork()
            return result
        }
    }

    /// Enqueues all `jobs` in one transaction: either every one is enqueued (or matched by key) or none is.
    /// An error about one job carries its position in `batchIndex`.
    public func enqueue(batch jobs: [NewJob]) async throws -> [Enqueued] {
        let context = try prepare(jobs)
        let results = try await transaction("enqueue") { db in try context.insert(db) }
        announceNewWork()
        return results
    }

    private func prepare(_ jobs: [NewJob]) throws -> EnqueueContext {
        try Validation.jobs(jobs, maxPayloadBytes: options.maxPayloadBytes)
        return EnqueueContext(jobs: jobs, now: now, pid: options.pid, defaultMaxAttempts: options.defaultMaxAttempts)
    }
}


/// Validated jobs and the values an enqueue transaction needs, captured so the closure stays `Sendable`.
struct EnqueueContext: Sendable {
    let jobs: [NewJob]
    let now: Micros
    let pid: Int32
    let defaultMaxAttempts: Int

    /// Inserts the jobs and their creation events; call inside a write transaction.
    func insert(_ db: Database) throws -> [Enqueued] {
        let firstNewID = (try Int64.fetchOne(db.cachedStatement(sql: "SELECT max(id) FROM jobs")) ?? 0) + 1
        let inserter = try JobInserter(db)
        var results: [Enqueued] = []
        results.reserveCapacity(jobs.count)
        for (index, job) in jobs.enumerated() {
            // A held key is looked up first: an insert that the key's index then ignores would still use up an id
            // (AUTOINCREMENT counts it).
            if let key = job.uniqueKey, let holder = try Self.unfinishedHolder(of: key, db: db) {
                results.append(Enqueued(id: holder, created: false))
                continue
            }
            let runAt = job.runAt ?? now
            let inserted: Int64?
            do {
                inserted = try inserter.insert(
                    handler: job.handler, queue: job.queue, state: runAt > now ? .scheduled : .queued,
                    uniqueKey: job.uniqueKey, payload: job.payload, priority: job.priority,
                    maxAttempts: job.maxAttempts ?? defaultMaxAttempts, runAt: runAt, now: now,
                    concurrencyKey: job.concurrencyKey, timeoutMilliseconds: job.timeout?.journalMilliseconds, schedule: job.schedule)
            } catch let error as DatabaseError where error.resultCode == .SQLITE_CONSTRAINT {
                // Names, sizes and numbers were checked before: the remaining CHECK is json_valid(payload).
                throw JournalError(.invalidPayload, Validation.invalidJSONMessage, batchIndex: index)
            }
            if let id = inserted {
                results.append(Enqueued(id: id, created: true))
            } else {
                results.append(Enqueued(id: try Self.holder(of: job.uniqueKey, db: db, index: index), created: false))
            }
        }
        // The creation events of every row this transaction inserted, in one statement.
        try db.cachedStatement(sql: """
            INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker_id, pid, reason)
            SELECT id, created_at, NULL, state, 0, NULL, ?, 'enqueued' FROM jobs WHERE id >= ?
            """).execute(arguments: [Int64(pid), firstNewID])
        return results
    }

    private static func holder(of key: String?, db: Database, index: Int) throws -> Int64 {
        guard let key, let existing = try unfinishedHolder(of: key, db: db) else {
            throw JournalError(.internalError, "insert ignored without a unique key match", batchIndex: index)
        }
        return existing
    }

    /// The unfinished job that holds `key`, through the key's partial unique index.
    private static func unfinishedHolder(of key: String, db: Database) throws -> Int64? {
        try Int64.fetchOne(
            db.cachedStatement(sql: "SELECT id FROM jobs WHERE unique_key = ? AND unique_key IS NOT NULL AND state <> 'completed' AND state <> 'dead' AND state <> 'cancelled'"),
            arguments: [key])
    }
}
