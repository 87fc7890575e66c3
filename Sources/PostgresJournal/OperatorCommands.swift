import Logging
import PostgresNIO
import WorkerStore

extension PostgresJournal {
    /// Moves a dead, cancelled or retrying job back to `queued` to run now, its event naming `origin`. A dead or
    /// cancelled job gets a fresh set of attempts.
    public func retry(job id: Int64, by origin: ChangeOrigin) async throws -> Job {
        let pid = options.pid
        let logger = self.logger
        let outcome = try await againOnKeyRace {
            try await transaction("retry") { connection -> Result<Job, JournalError> in
                let job = try await PGJobChanges.lock(connection, id: id, logger: logger)
                if let refusal = try await PGJobChanges.retry(connection, [job], pid: pid, reason: origin.retriedReason, logger: logger)[id] {
                    return .failure(refusal)  // a refusal found by reading, not a failed write: not run again
                }
                return .success(try await Job.require(connection, id: id, logger: logger))
            }
        }
        let job = try outcome.get()
        announceNewWork()
        return job
    }

    /// Runs `body` (a transaction that retries jobs) again when its write failed on a unique key's index: a
    /// producer took the key between the check and the write. The next run sees that producer's job and refuses
    /// or skips as usual. At most three runs.
    func againOnKeyRace<T: Sendable>(_ body: () async throws -> T) async throws -> T {
        var attempt = 0
        while true {
            attempt += 1
            do {
                return try await body()
            } catch let error as JournalError where error.code == .uniqueKeyConflict && attempt < 3 {
                continue
            }
        }
    }

    /// Cancels a job that has not finished, its event naming `origin`. A running job is asked to stop through its
    /// worker.
    public func cancel(job id: Int64, by origin: ChangeOrigin) async throws -> CancelResult {
        let pid = options.pid
        let logger = self.logger
        return try await transaction("cancel") { connection in
            let job = try await PGJobChanges.lock(connection, id: id, logger: logger)
            let (outcomes, refusals) = try await PGJobChanges.cancel(connection, [job], pid: pid, reason: origin.cancelledReason, logger: logger)
            if let refusal = refusals[id] { throw refusal }
            let now = try await Job.require(connection, id: id, logger: logger)
            switch outcomes[id] {
            case .cancelled: return .cancelled(now)
            case .requested: return .requested(now)
            case .alreadyCancelled, nil: return .alreadyCancelled(now)
            }
        }
    }
}

/// Retry and cancel of jobs read under a row lock, a whole set in one statement: the single-job commands and
/// the bulk changes go through here, so both make the same transitions and events as the SQLite journal's
/// `Journal.retry`/`Journal.cancel`. Call inside a transaction.
enum PGJobChanges {
    /// What cancelling did to one job.
    enum CancelOutcome: Sendable {
        case cancelled, requested, alreadyCancelled
    }

    /// The job with `id`, locked against other writers until the transaction ends; `jobNotFound` when none.
    static func lock(_ connection: PostgresConnection, id: Int64, logger: Logger) async throws -> Job {
        var conditions = PGWhere()
        conditions.add("jobs.id = \(conditions.bind(id))")
        guard let job = try await lock(connection, conditions, logger: logger).first else {
            throw JournalError(.jobNotFound, "no job with id \(id): list jobs with `worker jobs`")
        }
        return job
    }

    /// The jobs `conditions` select, by id, locked against other writers (a worker's claim, another operator)
    /// until the transaction ends. `skipLocked` leaves out the jobs another transaction holds instead of waiting:
    /// a transaction that locks many jobs must not wait while it holds some (see `PostgresJournal.apply`).
    static func lock(_ connection: PostgresConnection, _ conditions: PGWhere, skipLocked: Bool = false, logger: Logger) async throws -> [Job] {
        let query = conditions.query(
            "SELECT \(Job.pgColumns) FROM \(Job.pgFrom)", skipLocked ? " ORDER BY jobs.id FOR UPDATE OF jobs SKIP LOCKED" : " ORDER BY jobs.id FOR UPDATE OF jobs")
        var jobs: [Job] = []
        for try await row in try await connection.query(query, logger: logger) {
            jobs.append(try Job(postgres: row))
        }
        return jobs
    }

    /// Retries `jobs` (locked, by ascending id) as the single command does, journaling `reason`, and wakes the
    /// workers at commit when any was retried. Returns the refusals: `illegalTransition` for a job not dead,
    /// cancelled or retrying, `uniqueKeyConflict` for a finished one whose key another unfinished job holds (an
    /// earlier job of this set included). A producer taking a key meanwhile makes the statement fail with
    /// `uniqueKeyConflict` (the index refuses): run the transaction again.
    static func retry(
        _ connection: PostgresConnection, _ jobs: [Job], pid: Int32, reason: String, logger: Logger
    ) async throws -> [Int64: JournalError] {
        var refusals: [Int64: JournalError] = [:]
        let keys = jobs.compactMap { $0.state.isFinished && JobState.retryable.contains($0.state) ? $0.uniqueKey : nil }
        var holders = try await unfinishedHolders(of: keys, connection, logger: logger)
        var ids: [Int64] = [], attempts: [Int64] = [], froms: [String] = []
        for job in jobs {
            guard JobState.retryable.contains(job.state) else {
                refusals[job.id] = JournalError(
                    .illegalTransition,
                    "job \(job.id) is \(job.state.rawValue): only dead, cancelled or retrying jobs can be retried")
                continue
            }
            if let key = job.uniqueKey, job.state.isFinished {
                if let other = holders[key] {
                    refusals[job.id] = JournalError(
                        .uniqueKeyConflict,
                        "job \(job.id) cannot be retried: job \(other) with the same key '\(key)' is not finished; cancel or wait for it")
                    continue
                }
                holders[key] = job.id  // retried, it holds the key for the jobs after it
            }
            ids.append(job.id)
            attempts.append(Int64(job.state.isFinished ? 0 : job.attempts))
            froms.append(job.state.rawValue)
        }
        guard !ids.isEmpty else { return refusals }
        try await connection.query("""
            WITH changes AS (
                SELECT * FROM unnest(\(ids)::bigint[], \(attempts)::bigint[], \(froms)::text[]) AS c(id, attempts, from_state)
            ),
            clock AS MATERIALIZED (SELECT worker_micros() AS now),
            updated AS (
                UPDATE jobs SET state = 'queued', attempts = changes.attempts, run_at = clock.now, updated_at = clock.now,
                                finished_at = NULL
                FROM changes, clock WHERE jobs.id = changes.id
                RETURNING jobs.id, jobs.attempts, jobs.updated_at
            ),
            events AS (
                INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker_id, pid, reason)
                SELECT updated.id, updated.updated_at, changes.from_state, 'queued', updated.attempts, NULL, \(pid), \(reason)
                FROM updated JOIN changes ON changes.id = updated.id ORDER BY updated.id
            ),
            wake AS (
                SELECT pg_notify(\(unescaped: "'\(PostgresJournal.wakeChannel)'"), 'n') FROM (SELECT FROM updated LIMIT 1) AS written
            )
            SELECT (SELECT count(*) FROM updated), (SELECT count(*) FROM wake)
            """, logger: logger)
        return refusals
    }

    /// Cancels `jobs` (locked) as the single command does, journaling `reason`: a job not started is cancelled,
    /// a running one gets a cancel request (its worker stops it), a cancelled one is left alone. Returns what
    /// happened to each, and the refusals (`illegalTransition` for a completed or dead job).
    static func cancel(
        _ connection: PostgresConnection, _ jobs: [Job], pid: Int32, reason: String, logger: Logger
    ) async throws -> (outcomes: [Int64: CancelOutcome], refusals: [Int64: JournalError]) {
        var outcomes: [Int64: CancelOutcome] = [:]
        var refusals: [Int64: JournalError] = [:]
        var ids: [Int64] = [], attempts: [Int64] = [], froms: [String] = [], requests: [Int64] = []
        for job in jobs {
            switch job.state {
            case .cancelled:
                outcomes[job.id] = .alreadyCancelled
            case .completed, .dead:
                refusals[job.id] = JournalError(.illegalTransition, "job \(job.id) is already \(job.state.rawValue): there is nothing to cancel")
            case .running:
                if job.cancelRequestedAt == nil { requests.append(job.id) }
                outcomes[job.id] = .requested
            case .scheduled, .queued, .retrying, .interrupted:
                ids.append(job.id)
                attempts.append(Int64(job.attempts))
                froms.append(job.state.rawValue)
                outcomes[job.id] = .cancelled
            }
        }
        guard !ids.isEmpty || !requests.isEmpty else { return (outcomes, refusals) }
        try await connection.query("""
            WITH changes AS (
                SELECT * FROM unnest(\(ids)::bigint[], \(attempts)::bigint[], \(froms)::text[]) AS c(id, attempt, from_state)
            ),
            clock AS MATERIALIZED (SELECT worker_micros() AS now),
            cancelled AS (
                UPDATE jobs SET state = 'cancelled', updated_at = clock.now, finished_at = clock.now
                FROM changes, clock WHERE jobs.id = changes.id
                RETURNING jobs.id, jobs.updated_at
            ),
            events AS (
                INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker_id, pid, reason)
                SELECT cancelled.id, cancelled.updated_at, changes.from_state, 'cancelled', changes.attempt, NULL, \(pid), \(reason)
                FROM cancelled JOIN changes ON changes.id = cancelled.id ORDER BY cancelled.id
            ),
            requested AS (
                UPDATE jobs SET cancel_requested_at = clock.now FROM clock WHERE jobs.id = ANY(\(requests)::bigint[])
                RETURNING jobs.id
            )
            SELECT (SELECT count(*) FROM cancelled), (SELECT count(*) FROM requested)
            """, logger: logger)
        return (outcomes, refusals)
    }

    /// The unfinished job holding each of `keys`, through the keys' partial unique index.
    private static func unfinishedHolders(
        of keys: [String], _ connection: PostgresConnection, logger: Logger
    ) async throws -> [String: Int64] {
        guard !keys.isEmpty else { return [:] }
        var holders: [String: Int64] = [:]
        let rows = try await connection.query("""
            SELECT unique_key, id FROM jobs
            WHERE unique_key = ANY(\(keys)::text[]) AND unique_key IS NOT NULL AND state NOT IN ('completed', 'dead', 'cancelled')
            """, logger: logger)
        for try await (key, id) in rows.decode((String, Int64).self) {
            holders[key] = id
        }
        return holders
    }
}
