import Foundation
import Logging
import PostgresNIO
import Synchronization
import WorkerStore

extension PostgresJournal {
    /// Records how the jobs in `finished` ended and claims new ones: one statement, so one round trip and one
    /// commit per round (see `Round`). Every outcome is fenced by the token of the claim that gave the job to
    /// this journal: one from a worker that was cut off and recovered meanwhile is refused (`notHeld`, logged as a
    /// refused late outcome), so nothing is recorded twice. Claims need `claim.worker` registered and live
    /// (`workerNotRegistered`, and then nothing is recorded); after the journal lost a lock session
    /// (`storageProblem`) it claims nothing more: the outcomes are still recorded, and a pure claim fails with
    /// `unavailable`.
    public func finishAndClaim(
        finished: [(job: Int64, outcome: JobOutcome)], claim: ClaimRequest
    ) async throws -> (finished: [Result<JobState, JournalError>], claimed: [Job]) {
        var request = claim
        if request.limit + request.ahead > 0, let problem = workerSide.lost.withLock({ $0 }) {
            if finished.isEmpty { throw JournalError(.unavailable, problem) }
            request.limit = 0
            request.ahead = 0
        }
        return try await Round(journal: self, worker: request.worker, finished: finished, claim: request).run()
    }

    /// Records how the jobs in `batch`, held by `worker`, ended, in one statement (fenced as in `finishAndClaim`).
    public func finish(batch: [(job: Int64, outcome: JobOutcome)], worker: String) async throws -> [Result<JobState, JournalError>] {
        try await Round(journal: self, worker: worker, finished: batch, claim: nil).run().finished
    }

    /// The running jobs of `worker` an operator asked to cancel.
    public func cancelRequests(worker: String) async throws -> [Int64] {
        try await rows("""
            SELECT id FROM jobs WHERE state = 'running' AND worker_id = \(worker) AND cancel_requested_at IS NOT NULL ORDER BY id
            """).map { try $0.decode(Int64.self) }
    }
}

/// One round of a worker: outcomes to record and a claim, as a single statement whose CTEs share one snapshot and
/// one commit.
///
/// Outcomes: each row of `jobs` changes only while `running` under the worker with the token of the claim this
/// journal remembers; the rows the fence refused report where the job is instead. The claim: locking CTEs
/// (`FOR UPDATE SKIP LOCKED`, every predicate inside them so that no refused row takes a slot) pick interrupted
/// jobs first, then queued and retrying ones and due scheduled ones by priority, run_at and id; due scheduled jobs
/// not claimed are queued; suspects (`ClaimRequest.isolateSuspects`) run alone; the reserve (`ahead`) stops in
/// front of the first job of another handler. Every transition gets its event in the same statement.
struct Round {
    let journal: PostgresJournal
    let worker: String
    let finished: [(job: Int64, outcome: JobOutcome)]
    let claim: ClaimRequest?

    /// The token sent for a job this journal did not claim, so that the fence refuses it: no claim has it, as claim
    /// tokens are the claiming transaction's id (positive, unique per claim of a job since a job is claimed at most
    /// once per transaction, never reused).
    static let noToken: Int64 = -1

    func run() async throws -> (finished: [Result<JobState, JournalError>], claimed: [Job]) {
        let side = journal.workerSide
        let options = journal.options
        // The transitions are decided here, from what the claim returned (attempts cannot change while held).
        var ids: [Int64] = [], tokens: [Int64] = [], states: [String] = [], attempts: [Int32] = [], delays: [Int64] = []
        var clear: [Bool] = [], set: [Bool] = [], errors: [String] = [], reasons: [String] = []
        var sent = Set<Int64>()
        var repeated: [Int: Int64] = [:]  // index in `finished` -> job already sent earlier in the batch
        let holds = side.holds.withLock { holds in finished.map { item in holds[item.job].flatMap { $0.worker == worker ? $0 : nil } } }
        for (index, item) in finished.enumerated() {
            guard sent.insert(item.job).inserted else {
                repeated[index] = item.job
                continue
            }
            let hold = holds[index]
            let change = OutcomeTransition(
                item.outcome, attempts: hold?.attempts ?? 0, maxAttempts: hold?.maxAttempts ?? 1, policy: options.retryPolicy,
                random: options.random)
            ids.append(item.job)
            tokens.append(hold?.token ?? Self.noToken)
            states.append(change.target.rawValue)
            attempts.append(Int32(change.attempts))
            delays.append(change.retryDelay ?? 0)
            clear.append(change.lastError == .clear)
            set.append(change.lastError.text != nil)
            errors.append(change.lastError.text ?? "")
            reasons.append(change.reason)
        }
        let request = claim ?? ClaimRequest(worker: worker, limit: 0)
        let wanted = request.limit + request.ahead
        let stamps = request.plugins.sorted { $0.key < $1.key }
        let query: PostgresQuery = """
            WITH input AS (
                SELECT * FROM unnest(\(ids)::bigint[], \(tokens)::bigint[], \(states)::text[], \(attempts)::int[], \(delays)::bigint[],
                                     \(clear)::bool[], \(set)::bool[], \(errors)::text[], \(reasons)::text[])
                         WITH ORDINALITY AS i(id, token, state, attempts, delay, clear_error, set_error, error, reason, ord)),
            t AS MATERIALIZED (SELECT worker_micros() AS now),
            live AS MATERIALIZED (
                SELECT \(wanted) <= 0 OR EXISTS (
                    SELECT 1 FROM workers WHERE id = \(worker) AND stopped_at IS NULL FOR KEY SHARE) AS ok),
            finished AS (
                UPDATE jobs j SET state = i.state, attempts = i.attempts, updated_at = t.now,
                       run_at = CASE WHEN i.state = 'retrying' THEN t.now + i.delay ELSE j.run_at END,
                       finished_at = CASE WHEN i.state IN ('completed', 'dead', 'cancelled') THEN t.now ELSE j.finished_at END,
                       last_error = CASE WHEN i.clear_error THEN NULL WHEN i.set_error THEN i.error ELSE j.last_error END
                FROM input i, t, live
                WHERE live.ok AND j.id = i.id AND j.state = 'running' AND j.worker_id = \(worker) AND j.claim_token = i.token
                RETURNING j.id, j.state, j.attempts, j.run_at, i.reason, i.ord),
            suspect AS MATERIALIZED (
                SELECT id, handler, state FROM jobs
                WHERE \(request.isolateSuspects) AND \(wanted) > 0 AND (SELECT ok FROM live)
                  AND state = 'interrupted' AND crashes >= \(request.suspectCrashes) \(claimFilter: request)
                ORDER BY priority DESC, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED),
            due AS MATERIALIZED (
                SELECT id, queue, handler, priority, run_at, attempts FROM jobs
                WHERE \(wanted) > 0 AND (SELECT ok FROM live) AND state = 'scheduled' AND run_at <= (SELECT now FROM t)
                ORDER BY run_at LIMIT 1000 FOR UPDATE SKIP LOCKED),
            interrupted AS MATERIALIZED (
                SELECT id, handler, state, priority, run_at FROM jobs
                WHERE \(wanted) > 0 AND (SELECT ok FROM live) AND NOT EXISTS (SELECT 1 FROM suspect)
                  AND state = 'interrupted' \(claimFilter: request)
                ORDER BY priority DESC, run_at, id LIMIT \(wanted) FOR UPDATE SKIP LOCKED),
            ready AS MATERIALIZED (
                SELECT id, handler, state, priority, run_at FROM jobs
                WHERE \(wanted) > 0 AND (SELECT ok FROM live) AND NOT EXISTS (SELECT 1 FROM suspect)
                  AND state IN ('queued', 'retrying') AND run_at <= (SELECT now FROM t) \(claimFilter: request)
                ORDER BY priority DESC, run_at, id
                LIMIT greatest(\(wanted) - (SELECT count(*) FROM interrupted), 0) FOR UPDATE SKIP LOCKED),
            ordered AS (
                SELECT id, handler, state, row_number() OVER (ORDER BY k, priority DESC, run_at, id) AS rn FROM (
                    SELECT id, handler, state, 0 AS k, priority, run_at FROM interrupted
                    UNION ALL SELECT id, handler, state, 1, priority, run_at FROM ready
                    UNION ALL SELECT id, handler, 'scheduled', 1, priority, run_at FROM due
                    WHERE NOT EXISTS (SELECT 1 FROM suspect) \(claimFilter: request)) AS pool),
            cut AS (
                SELECT min(rn) AS first_other FROM ordered
                WHERE rn > \(request.limit) AND NOT (\(request.aheadHandlers == nil) OR handler = ANY(\(request.aheadHandlers ?? [])::text[]))),
            picked AS (
                SELECT id, handler, state, 1::bigint AS rn FROM suspect WHERE NOT \(request.busy) AND \(request.limit) > 0
                UNION ALL
                SELECT o.id, o.handler, o.state, o.rn FROM ordered o, cut
                WHERE o.rn <= \(wanted) AND (o.rn <= \(request.limit) OR cut.first_other IS NULL OR o.rn < cut.first_other)),
            promoted AS (
                UPDATE jobs j SET state = 'queued', updated_at = t.now FROM due d, t
                WHERE j.id = d.id AND NOT EXISTS (SELECT 1 FROM picked p WHERE p.id = d.id)),
            stamps AS (
                SELECT * FROM unnest(\(stamps.map(\.key))::text[], \(stamps.map(\.value.name))::text[],
                                     \(stamps.map(\.value.version))::text[], \(stamps.map(\.value.sha256))::text[])
                         AS s(handler, name, version, sha256)),
            claimed AS (
                UPDATE jobs j SET state = 'running', attempts = j.attempts + 1, worker_id = \(worker), updated_at = t.now,
                       cancel_requested_at = NULL, claim_token = pg_current_xact_id()::text::bigint,
                       plugin_name = CASE WHEN s.handler IS NULL THEN j.plugin_name ELSE s.name END,
                       plugin_version = CASE WHEN s.handler IS NULL THEN j.plugin_version ELSE s.version END,
                       plugin_sha256 = CASE WHEN s.handler IS NULL THEN j.plugin_sha256 ELSE s.sha256 END
                FROM picked p LEFT JOIN stamps s ON s.handler = p.handler CROSS JOIN t
                WHERE j.id = p.id
                RETURNING j.*, p.state AS from_state, p.rn),
            events AS (
                INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker_id, pid, reason)
                SELECT job_id, at, from_state, to_state, attempt, worker_id, pid, reason FROM (
                    SELECT 1 AS g, f.id AS job_id, t.now AS at, 'running' AS from_state, f.state AS to_state, f.attempts AS attempt,
                           \(worker)::text AS worker_id, \(options.pid)::int AS pid,
                           CASE WHEN f.state = 'retrying' THEN f.reason || \(unescaped: Self.iso8601SQL("f.run_at")) ELSE f.reason END AS reason
                    FROM finished f, t
                    UNION ALL
                    SELECT 2, d.id, t.now, 'scheduled', 'queued', d.attempts, NULL, \(options.pid)::int, 'due' FROM due d, t
                    UNION ALL
                    SELECT 3, c.id, t.now, CASE WHEN c.from_state = 'scheduled' THEN 'queued' ELSE c.from_state END, 'running',
                           c.attempts, \(worker)::text, \(options.pid)::int,
                           CASE WHEN c.from_state = 'interrupted' THEN 'resumed' ELSE 'claimed' END
                    FROM claimed c, t) AS e
                ORDER BY g, job_id)
            SELECT \(unescaped: Self.claimedColumns), 'claimed' AS kind, c.rn AS ord, NULL::text AS now_state, NULL::text AS holder,
                   false AS applied, c.claim_token
            FROM claimed c LEFT JOIN job_checkpoints ON job_checkpoints.job_id = c.id
            UNION ALL
            SELECT \(unescaped: Self.noJobColumns), 'finished', f.ord, f.state, NULL, true, NULL FROM finished f
            UNION ALL
            SELECT \(unescaped: Self.noJobColumns), 'finished', i.ord, cur.state, cur.worker_id, false, NULL
            FROM input i LEFT JOIN jobs cur ON cur.id = i.id WHERE i.ord NOT IN (SELECT ord FROM finished)
            UNION ALL
            SELECT \(unescaped: Self.noJobColumns), 'not live', 0, NULL, NULL, false, NULL FROM live WHERE NOT ok
            """
        // The round is one statement, its own transaction: a crash here, before it is sent, writes nothing, as a
        // crash between SQLite's writes and their commit rolls them back.
        FaultInjection.point("commit:exchange")
        let rows = try await journal.rows(query, on: journal.rounds)
        var results = [Result<JobState, JournalError>?](repeating: nil, count: finished.count)
        var claimed: [(rank: Int64, job: Job, token: Int64)] = []
        var byOrdinal: [Int64: Result<JobState, JournalError>] = [:]
        for row in rows {
            let cells = row.makeRandomAccess()
            let kind = try cells[Self.trailing].decode(String.self)
            let ordinal = try cells[Self.trailing + 1].decode(Int64.self)
            switch kind {
            case "claimed":
                claimed.append((ordinal, try Job(postgres: row), try cells[Self.trailing + 5].decode(Int64.self)))
            case "finished":
                let id = ids[Int(ordinal) - 1]
                let state = try cells[Self.trailing + 2].decode(String?.self)
                let holder = try cells[Self.trailing + 3].decode(String?.self)
                if try cells[Self.trailing + 4].decode(Bool.self) {
                    byOrdinal[ordinal] = .success(JobState(rawValue: state ?? "") ?? .completed)
                } else if let state {
                    journal.logger.warning(
                        "refused a late outcome of job \(id) from worker \(worker): it is \(state)\(holder.map { " under \($0)" } ?? "") now, and stays so")
                    byOrdinal[ordinal] = .failure(.notHeld(job: id, worker: worker, state: state, holder: holder))
                } else {
                    byOrdinal[ordinal] = .failure(JournalError(.jobNotFound, "no job with id \(id): list jobs with `worker jobs`"))
                }
            default:
                throw JournalError(.workerNotRegistered, "worker \(worker) is not registered as live: register it before claiming")
            }
        }
        // In the batch's order; a job named twice is not held any more the second time.
        var ordinal: Int64 = 0
        for index in finished.indices {
            if let job = repeated[index] {
                let first = finished.firstIndex { $0.job == job }!
                let state = (try? results[first]?.get())?.rawValue ?? "finished"
                results[index] = .failure(.notHeld(job: job, worker: worker, state: state, holder: worker))
            } else {
                ordinal += 1
                results[index] = byOrdinal[ordinal]
            }
        }
        let jobs = claimed.sorted { $0.rank < $1.rank }
        side.holds.withLock { holds in
            // An outcome sent by the worker that claimed the job ends its hold, recorded or refused (refused, the job
            // is no longer its own); one sent for a job another worker of this journal holds leaves that hold alone.
            for item in finished where holds[item.job]?.worker == worker {
                holds[item.job] = nil
            }
            for claim in jobs {
                holds[claim.job.id] = WorkerSide.Hold(
                    worker: worker, token: claim.token, attempts: claim.job.attempts, maxAttempts: claim.job.maxAttempts)
            }
        }
        return (results.map { $0 ?? .failure(JournalError(.internalError, "no result for an outcome")) }, jobs.map(\.job))
    }

    /// Where the columns after a row's job columns begin.
    static let trailing = 22

    /// `Job.pgColumns` read from the `claimed` CTE (the statement's own snapshot does not see its changes to `jobs`).
    static let claimedColumns = Job.pgColumns.replacingOccurrences(of: "jobs.", with: "c.")
    static let noJobColumns = Array(repeating: "NULL", count: trailing).joined(separator: ", ")

    /// SQL formatting microseconds `column` as `iso8601` does (`2026-11-22T03:09:54.123456Z`): a retry's reason
    /// names its due time, which only the server knows when the statement runs.
    static func iso8601SQL(_ column: String) -> String {
        """
        (to_char(to_timestamp(\(column) / 1000000) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS') || '.' \
        || lpad((\(column) % 1000000)::text, 6, '0') || 'Z')
        """
    }
}

extension PostgresQuery.StringInterpolation {
    /// The queue, handler and id filters of a claim, as SQL terms (each `AND ...`) on the columns `queue`,
    /// `handler` and `id`; repeated inside every locking CTE, so that no job they refuse takes a slot.
    /// The queue and handler terms are not indexable on purpose (`|| ''`): a claim walks its state's partial index
    /// in claim order and stops at its limit, as SQLite's does (`INDEXED BY`). Given the lookup indexes on handler
    /// and queue, the planner took them whenever the statistics were stale (after a bulk enqueue), and sorted the
    /// whole backlog for every round.
    mutating func appendInterpolation(claimFilter request: ClaimRequest) {
        appendLiteral(" AND (cardinality(")
        appendInterpolation(request.queues)
        appendLiteral("::text[]) = 0 OR (queue || '') = ANY(")
        appendInterpolation(request.queues)
        appendLiteral("::text[])) AND (")
        appendInterpolation(request.handlers == nil)
        appendLiteral(" OR (handler || '') = ANY(")
        appendInterpolation(request.handlers ?? [])
        appendLiteral("::text[])) AND (")
        appendInterpolation(request.ids == nil)
        appendLiteral(" OR id = ANY(")
        appendInterpolation(request.ids ?? [])
        appendLiteral("::bigint[]))")
    }
}
