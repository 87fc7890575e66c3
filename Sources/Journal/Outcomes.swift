import WorkerStore
import GRDB

extension Journal {
    /// Records how a job held by `worker` ended and returns the job afterwards.
    public func finish(job id: Int64, worker: String, outcome: JobOutcome) async throws -> Job {
        let context = FinishContext(journal: self)
        return try await transaction("finish-one") { db in
            let state = try context.apply(db, id: id, worker: worker, outcome: outcome)
            try ActivityRows.add(db, ActivityRollup.Counts(states: [state]), worker: worker, at: context.now)
            return try Job.require(db, id: id)
        }
    }

    /// Records many outcomes in one transaction (group commit). Each gets its own result: a job that is no
    /// longer held by `worker` does not stop the others from being recorded.
    public func finish(batch: [(job: Int64, outcome: JobOutcome)], worker: String) async throws -> [Result<JobState, JournalError>] {
        let context = FinishContext(journal: self)
        return try await transaction("finish") { db in try context.applyAll(db, batch, worker: worker) }
    }
}

/// What `finish` needs from the journal, captured once so the transaction closure stays `Sendable`.
struct FinishContext: Sendable {
    let path: String
    private(set) var now: Micros
    let pid: Int32
    let policy: RetryPolicy
    let random: @Sendable () -> Double

    init(journal: Journal) {
        path = journal.path
        now = journal.now
        pid = journal.options.pid
        policy = journal.options.retryPolicy
        random = journal.options.random
    }

    /// The same, at another time.
    func at(_ now: Micros) -> FinishContext {
        var context = self
        context.now = now
        return context
    }

    /// Applies each outcome; one that cannot be recorded because the job is no longer held by `worker` fails
    /// alone. Any other error (I/O, a full disk) is thrown: the whole transaction rolls back rather than
    /// committing part of a job's transition. Completions, the common case, are recorded set-based: three
    /// statements for the whole batch instead of three per job. The outcomes recorded are added to the worker's
    /// row of the activity rollup (one statement).
    func applyAll(_ db: Database, _ batch: [(job: Int64, outcome: JobOutcome)], worker: String) throws -> [Result<JobState, JournalError>] {
        guard !batch.isEmpty else { return [] }
        let completed = batch.filter { $0.outcome == .completed }.map(\.job)
        let completedResults = completed.count > 1 ? try completeAll(db, completed, worker: worker) : [:]
        let results = try batch.map { item in
            if let result = completedResults[item.job] { return result }
            return try fenced { try apply(db, id: item.job, worker: worker, outcome: item.outcome) }
        }
        try ActivityRows.add(db, ActivityRollup.Counts(states: results.compactMap { try? $0.get() }), worker: worker, at: now)
        return results
    }

    /// Records `ids` completed; those not held by `worker` get the fence's error, the others `.completed`.
    private func completeAll(_ db: Database, _ ids: [Int64], worker: String) throws -> [Int64: Result<JobState, JournalError>] {
        let held = Set(try Int64.fetchAll(
            db.cachedStatement(sql: "SELECT id FROM jobs WHERE id IN \(IDList.sql) AND state = 'running' AND worker_id = ?"),
            arguments: [IDList(ids).json, worker]))
        var results: [Int64: Result<JobState, JournalError>] = [:]
        for id in ids where !held.contains(id) {
            results[id] = try fenced { _ = try Held.require(db, job: id, worker: worker); return .completed }
        }
        let done = ids.filter(held.contains)
        guard !done.isEmpty else { return results }
        let doneList = IDList(done).json
        try db.cachedStatement(sql: """
            INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker_id, pid, reason)
            SELECT id, ?, 'running', 'completed', attempts, ?, ?, 'completed' FROM jobs WHERE id IN \(IDList.sql) ORDER BY id
            """).execute(arguments: [now, worker, Int64(pid), doneList])
        try db.cachedStatement(sql: """
            UPDATE jobs SET state = 'completed', updated_at = ?, finished_at = ?, last_error = NULL WHERE id IN \(IDList.sql)
            """).execute(arguments: [now, now, doneList])
        for id in done { results[id] = .success(.completed) }
        return results
    }

    /// The fence's refusals (the job is gone or no longer held by this worker) as a result; other errors thrown.
    private func fenced(_ body: () throws -> JobState) throws -> Result<JobState, JournalError> {
        do {
            return .success(try body())
        } catch let error as JournalError where error.code == .notHeld || error.code == .jobNotFound {
            return .failure(error)
        }
    }

    func apply(_ db: Database, id: Int64, worker: String, outcome: JobOutcome) throws -> JobState {
        let held = try Held.require(db, job: id, worker: worker)
        let change = OutcomeTransition(outcome, attempts: held.attempts, maxAttempts: held.maxAttempts, policy: policy, random: random)
        let runAt = change.retryDelay.map { now + $0 }
        try db.cachedStatement(sql: """
            UPDATE jobs SET state = ?, updated_at = ?, attempts = ?, run_at = coalesce(?, run_at),
                   finished_at = CASE WHEN ? THEN ? ELSE finished_at END,
                   last_error = CASE WHEN ? THEN NULL ELSE coalesce(?, last_error) END
            WHERE id = ?
            """).execute(arguments: [
                change.target.rawValue, now, change.attempts, runAt, change.finishes, now,
                change.lastError == .clear, change.lastError.text, id,
            ])
        try Events.append(
            db, jobID: id, at: now, from: .running, to: change.target, attempt: change.attempts, worker: worker, pid: pid,
            reason: runAt.map(change.reason(runAt:)) ?? change.reason)
        return change.target
    }
}

/// A job as seen by the worker that holds it: the fence every worker write passes through.
struct Held {
    let attempts: Int
    let maxAttempts: Int

    /// The job's attempt data if it is `running` under `worker`; otherwise an error saying where it is.
    static func require(_ db: Database, job id: Int64, worker: String) throws -> Held {
        let row = try Row.fetchOne(
            db.cachedStatement(sql: "SELECT state, worker_id, attempts, max_attempts FROM jobs WHERE id = ?"),
            arguments: [id])
        guard let row else {
            throw JournalError(.jobNotFound, "no job with id \(id): list jobs with `worker jobs`")
        }
        let state: String = try row.decode(atIndex: 0)
        let holder: String? = try row.decode(atIndex: 1)
        guard state == JobState.running.rawValue, holder == worker else {
            throw JournalError.notHeld(job: id, worker: worker, state: state, holder: holder)
        }
        return Held(attempts: try row.decode(atIndex: 2), maxAttempts: try row.decode(atIndex: 3))
    }
}
