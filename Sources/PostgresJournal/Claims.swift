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
    public func finishAndClaim(finished: [(job: Int64, outcome: JobOutcome)], claim: ClaimRequest) async throws -> RoundResult {
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

    func run() async throws -> RoundResult {
        let side = journal.workerSide
        let options = journal.options
        // The transitions are decided here, from what the claim returned (attempts cannot change while held).
        var outcomes = RoundOutcomes()
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
            outcomes.ids.append(item.job)
            outcomes.tokens.append(hold?.token ?? Self.noToken)
            outcomes.states.append(change.target.rawValue)
            outcomes.attempts.append(Int32(change.attempts))
            outcomes.delays.append(change.retryDelay ?? 0)
            outcomes.clear.append(change.lastError == .clear)
            outcomes.set.append(change.lastError.text != nil)
            outcomes.errors.append(change.lastError.text ?? "")
            outcomes.reasons.append(change.reason)
        }
        let request = claim ?? ClaimRequest(worker: worker, limit: 0)
        let query = RoundStatement.query(worker: worker, pid: options.pid, outcomes: outcomes, request: request)
        // The round is one statement, its own transaction: a crash here, before it is sent, writes nothing, as a
        // crash between SQLite's writes and their commit rolls them back.
        FaultInjection.point("commit:exchange")
        // Prepared when its text is the one prepared (always, unless the statement's text came to depend on a request;
        // `RoundStatementTests` checks it does not).
        let rows = query.sql == RoundStatement.sql
            ? try await journal.prepared(RoundStatement(bindings: query.binds), on: journal.rounds)
            : try await journal.rows(query, on: journal.rounds)
        var results = [Result<JobState, JournalError>?](repeating: nil, count: finished.count)
        var claimed: [(rank: Int64, job: Job, token: Int64)] = []
        var byOrdinal: [Int64: Result<JobState, JournalError>] = [:]
        var nextRunAt: Micros?
        for row in rows {
            let cells = row.makeRandomAccess()
            let kind = try cells[Self.trailing].decode(String.self)
            let ordinal = try cells[Self.trailing + 1].decode(Int64.self)
            switch kind {
            case "claimed":
                claimed.append((ordinal, try Job(postgres: row), try cells[Self.trailing + 5].decode(Int64.self)))
            case "next":
                nextRunAt = try cells[Self.trailing + 5].decode(Int64?.self)
            case "woke":
                break  // the statement woke idle workers: a slot of a limited queue is free
            case "finished":
                let id = outcomes.ids[Int(ordinal) - 1]
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
        return RoundResult(
            finished: results.map { $0 ?? .failure(JournalError(.internalError, "no result for an outcome")) }, claimed: jobs.map(\.job),
            nextRunAt: nextRunAt)
    }

    /// Where the columns after a row's job columns begin.
    static let trailing = 26

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
        appendLiteral("::bool OR (handler || '') = ANY(")
        appendInterpolation(request.handlers ?? [])
        appendLiteral("::text[])) AND (")
        appendInterpolation(request.ids == nil)
        appendLiteral("::bool OR id = ANY(")
        appendInterpolation(request.ids ?? [])
        appendLiteral("::bigint[]))")
    }
}
