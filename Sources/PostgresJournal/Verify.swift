import PostgresNIO
import WorkerStore

extension PostgresJournal {
    /// Job ids per statement of the chain walk: a range is checked well within the statement deadline (1,000,000
    /// jobs with 3,000,000 events took 14 s in one statement on a loaded 2-core machine).
    static let verifyRange: Int64 = 100_000

    /// Checks the journal's consistency: the schema is whole (every table, index, trigger, function and sequence
    /// the migrations create), each job's state equals its last event's, events chain (each starts where the
    /// previous one ended) through legal transitions between known states, no event, checkpoint or step names a
    /// job that does not exist, every running job is held by a registered, unstopped worker whose advisory lock is
    /// held, and finished jobs have a finish time and no more attempts than allowed.
    ///
    /// PostgreSQL checks its own pages (checksums, WAL), so there is no counterpart of SQLite's `integrity_check`:
    /// `integrityErrors` stays empty. Only anomalies travel from the server (window functions walk the chains
    /// there). Each check is one statement, and the chains are walked in ranges of `verifyRange` job ids, one
    /// statement each: every job is judged on one consistent view of it and its events, and a journal of any size
    /// fits the statement deadline. A job that moves on while it is checked is judged before or after the move,
    /// never half-way.
    public func verify(maxFindings: Int) async throws -> VerifyReport {
        try await verify(maxFindings: maxFindings, range: Self.verifyRange)
    }

    /// `verify` walking the chains `range` job ids per statement.
    func verify(maxFindings: Int, range: Int64) async throws -> VerifyReport {
        var report = VerifyReport(integrityErrors: [], findings: [], jobsChecked: 0, eventsChecked: 0)
        func note(_ finding: String) {
            if report.findings.count < maxFindings { report.findings.append(finding) }
        }
        var remaining: Int64 { Int64(max(0, maxFindings - report.findings.count)) }
        // Without its tables the checks below cannot run: what is missing is the finding.
        let expected = SchemaObjects.created(by: EmbeddedPostgresMigrations.all.map(\.sql))
        for row in try await rows(Self.missingObjectsQuery(kinds: expected.map(\.kind), names: expected.map(\.name))) {
            let (kind, name) = try row.decode((String, String).self)
            note(VerifyFinding.missing(kind: kind, name: name))
        }
        if !report.findings.isEmpty { return report }

        let (jobs, events, first, last) = try await rows(
            "SELECT (SELECT count(*) FROM jobs), (SELECT count(*) FROM job_events), (SELECT coalesce(min(id), 0) FROM jobs), (SELECT coalesce(max(id), -1) FROM jobs)"
        )[0].decode((Int, Int, Int64, Int64).self)
        report.jobsChecked = jobs
        report.eventsChecked = events

        let allowed = VerifyFinding.allowedTransitions
        var low = first
        while low <= last, remaining > 0 {
            let high = low > last - range ? last : low + range - 1
            for row in try await rows(Self.chainQuery(jobs: low...high, allowedFrom: allowed.from, allowedTo: allowed.to, limit: remaining)) {
                let (kind, job, event, from, to, state) = try row.decode((String, Int64, Int64?, String?, String?, String?).self)
                switch (kind, event) {
                case ("none", _): note(VerifyFinding.noEvents(job: job))
                case ("state", _): note(VerifyFinding.stateDiffers(job: job, state: state ?? "", lastEvent: to))
                // A broken chain's `state` column carries the previous event's to_state.
                case ("chain", let event?): note(VerifyFinding.brokenChain(job: job, event: event, from: from, previous: state))
                case ("unknown", let event?): note(VerifyFinding.unknownState(job: job, event: event, from: from, to: to ?? ""))
                case ("illegal", let event?): note(VerifyFinding.illegalTransition(job: job, event: event, from: from, to: to ?? ""))
                default: break
                }
            }
            low = high + 1
        }

        for row in try await rows("""
            SELECT job_id, count(*), min(id) FROM job_events e WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = e.job_id)
            GROUP BY job_id ORDER BY job_id LIMIT \(remaining)
            """) {
            let (job, count, first) = try row.decode((Int64, Int, Int64).self)
            note(VerifyFinding.eventsOfMissingJob(job: job, events: count, first: first))
        }

        for row in try await rows("""
            SELECT jobs.id, jobs.worker_id, workers.id IS NOT NULL, workers.stopped_at IS NOT NULL,
                   \(unescaped: LockKeys.heldSQL(keyColumn: "workers.lock_key"))
            FROM jobs LEFT JOIN workers ON workers.id = jobs.worker_id
            WHERE jobs.state = 'running' ORDER BY jobs.id LIMIT \(remaining)
            """) {
            let (job, worker, registered, stopped, live) = try row.decode((Int64, String?, Bool, Bool, Bool).self)
            if let finding = VerifyFinding.running(job: job, worker: worker, registered: registered, stopped: stopped, live: { live }) {
                note(finding)
            }
        }

        for row in try await rows("""
            SELECT id, state FROM jobs
            WHERE (state IN ('completed', 'dead', 'cancelled') AND finished_at IS NULL) OR attempts > max_attempts + crashes
            ORDER BY id LIMIT \(remaining)
            """) {
            let (job, state) = try row.decode((Int64, String).self)
            note(VerifyFinding.inconsistentCounts(job: job, state: state))
        }

        // No foreign keys tie checkpoints and steps to their job (as on SQLite): a deletion outside the worker can
        // leave them behind, and a job that later took the id would start from them.
        for row in try await rows("""
            SELECT 'checkpoint', job_id, 1 FROM job_checkpoints c WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = c.job_id)
            UNION ALL
            SELECT 'step', job_id, count(*) FROM job_steps s WHERE NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = s.job_id)
            GROUP BY job_id
            ORDER BY 2, 1 LIMIT \(remaining)
            """) {
            let (table, job, count) = try row.decode((String, Int64, Int).self)
            note(VerifyFinding.recordsOfMissingJob(job: job, kind: table, count: count))
        }
        return report
    }

    /// Those of the schema objects (`kinds[i]` table, index, trigger, function or sequence named `names[i]`) the
    /// database lacks, in the migrations' order.
    static func missingObjectsQuery(kinds: [String], names: [String]) -> PostgresQuery {
        """
        SELECT kind, name FROM unnest(\(kinds)::text[], \(names)::text[]) WITH ORDINALITY AS o(kind, name, n)
        WHERE NOT CASE kind
            WHEN 'trigger' THEN EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = name AND NOT tgisinternal
                                        AND pg_table_is_visible(tgrelid))
            WHEN 'function' THEN EXISTS (SELECT 1 FROM pg_proc WHERE proname = name AND pg_function_is_visible(oid))
            ELSE EXISTS (SELECT 1 FROM pg_class WHERE relname = name AND pg_table_is_visible(oid)
                         AND relkind = CASE kind WHEN 'table' THEN 'r' WHEN 'index' THEN 'i' ELSE 'S' END)
        END
        ORDER BY n
        """
    }

    /// The anomalies of the event chains of the jobs with ids in `jobs`, in job order and, within a job, event order with the job's own finding
    /// last: `none` (a job without events), `state` (the last event's to_state is not the job's state), `chain`
    /// (an event does not start where the previous one ended; `state` is that end), `unknown` (a state no worker
    /// writes), `illegal` (a transition `JobState.canTransition` forbids: the allowed pairs are bound, "" for
    /// creation). Columns: kind, job, event, from_state, to_state, state. Events of missing jobs are left to their
    /// own check.
    static func chainQuery(jobs: ClosedRange<Int64>, allowedFrom: [String], allowedTo: [String], limit: Int64) -> PostgresQuery {
        let states = JobState.allCases.map(\.rawValue)
        return """
            WITH chain AS (
                SELECT e.job_id, e.id, e.from_state, e.to_state, lag(e.to_state) OVER w AS previous,
                       lead(e.id) OVER w IS NULL AS last
                FROM job_events e WHERE e.job_id BETWEEN \(jobs.lowerBound) AND \(jobs.upperBound)
                WINDOW w AS (PARTITION BY e.job_id ORDER BY e.id)
            ), allowed AS (
                SELECT * FROM unnest(\(allowedFrom)::text[], \(allowedTo)::text[]) AS a(from_state, to_state)
            ), findings AS (
                SELECT CASE
                           WHEN c.from_state IS DISTINCT FROM c.previous THEN 'chain'
                           WHEN c.to_state <> ALL(\(states)::text[]) OR c.from_state <> ALL(\(states)::text[]) THEN 'unknown'
                           WHEN NOT EXISTS (SELECT 1 FROM allowed a WHERE a.from_state = coalesce(c.from_state, '')
                                                                      AND a.to_state = c.to_state) THEN 'illegal'
                       END AS kind,
                       c.job_id, c.id AS event, c.from_state, c.to_state, c.previous AS state
                FROM chain c WHERE EXISTS (SELECT 1 FROM jobs WHERE jobs.id = c.job_id)
                UNION ALL
                SELECT 'state', j.id, NULL, NULL, c.to_state, j.state FROM chain c JOIN jobs j ON j.id = c.job_id
                WHERE c.last AND c.to_state <> j.state
                UNION ALL
                SELECT 'none', j.id, NULL, NULL, NULL, j.state FROM jobs j
                WHERE j.id BETWEEN \(jobs.lowerBound) AND \(jobs.upperBound) AND NOT EXISTS (SELECT 1 FROM job_events e WHERE e.job_id = j.id)
            )
            SELECT kind, job_id, event, from_state, to_state, state FROM findings WHERE kind IS NOT NULL
            ORDER BY job_id, event NULLS LAST LIMIT \(limit)
            """
    }
}
