import PostgresNIO
import WorkerStore

/// The outcomes a round records, bound as one array per column (`unnest` turns them into rows).
struct RoundOutcomes: Sendable {
    var ids: [Int64] = [], tokens: [Int64] = [], states: [String] = [], attempts: [Int32] = [], delays: [Int64] = []
    var clear: [Bool] = [], set: [Bool] = [], errors: [String] = [], reasons: [String] = []
}

/// The statement of a round (see `Round`), prepared once on each connection of the rounds' pool: its text is the
/// same for every round (everything a round varies is a parameter), so the server parses it once per connection,
/// not once per round, and soon plans it once too (a generic plan: 0.1 ms instead of 3 ms a round). Every
/// parameter is cast, so that the types the server infers are those the values are sent as.
///
/// A generic plan cannot know how many outcomes or jobs a round carries (it assumes few), so the text leaves it no
/// bad choice: the outcomes find their jobs by primary key (the worker's term is not indexable: walking the
/// worker's running jobs against every outcome was quadratic, 22 ms for 200), and the claims walk their state's
/// partial index in claim order (the rounds' sessions plan without bitmap scans, see `PostgresJournal.rounds`).
struct RoundStatement: PostgresPreparedStatement {
    typealias Row = PostgresRow

    static let sql = query(worker: "", pid: 0, outcomes: RoundOutcomes(), request: ClaimRequest(worker: "", limit: 0)).sql

    let bindings: PostgresBindings

    func makeBindings() throws -> PostgresBindings { bindings }
    func decodeRow(_ row: PostgresRow) throws -> PostgresRow { row }

    /// The round's statement for these outcomes and this claim (`request.limit + request.ahead` 0: none).
    static func query(worker: String, pid: Int32, outcomes: RoundOutcomes, request: ClaimRequest) -> PostgresQuery {
        let wanted = request.limit + request.ahead
        let stamps = request.plugins.sorted { $0.key < $1.key }
        return """
            WITH input AS (
                SELECT * FROM unnest(\(outcomes.ids)::bigint[], \(outcomes.tokens)::bigint[], \(outcomes.states)::text[], \(outcomes.attempts)::int[], \(outcomes.delays)::bigint[],
                                     \(outcomes.clear)::bool[], \(outcomes.set)::bool[], \(outcomes.errors)::text[], \(outcomes.reasons)::text[])
                         WITH ORDINALITY AS i(id, token, state, attempts, delay, clear_error, set_error, error, reason, ord)),
            t AS MATERIALIZED (SELECT worker_micros() AS now),
            live AS MATERIALIZED (
                SELECT \(wanted)::bigint <= 0 OR EXISTS (
                    SELECT 1 FROM workers WHERE id = \(worker)::text AND stopped_at IS NULL FOR KEY SHARE) AS ok),
            finished AS (
                UPDATE jobs j SET state = i.state, attempts = i.attempts, updated_at = t.now,
                       run_at = CASE WHEN i.state = 'retrying' THEN t.now + i.delay ELSE j.run_at END,
                       finished_at = CASE WHEN i.state IN ('completed', 'dead', 'cancelled') THEN t.now ELSE j.finished_at END,
                       last_error = CASE WHEN i.clear_error THEN NULL WHEN i.set_error THEN i.error ELSE j.last_error END
                FROM input i, t, live
                WHERE live.ok AND j.id = i.id AND j.state = 'running' AND (j.worker_id || '') = \(worker)::text AND j.claim_token = i.token
                RETURNING j.id, j.state, j.attempts, j.run_at, i.reason, i.ord, j.queue, j.concurrency_key),
            -- The outcomes recorded, added to this worker's row of the activity rollup: one upsert a round.
            recorder AS (SELECT \(worker)::text AS id),
            \(unescaped: PGActivity.cte(state: "f.state", at: "t.now", worker: "r.id", from: "finished f, t, recorder r")),
            budgets AS MATERIALIZED (
                SELECT b.* FROM (SELECT now FROM t WHERE \(wanted)::bigint > 0 AND (SELECT ok FROM live)) AS tt,
                     LATERAL worker_queue_budgets(tt.now, \(request.queues)::text[]) AS b),
            controlled AS MATERIALIZED (
                SELECT coalesce(array_agg(queue_name), '{}') AS names,
                       coalesce(array_agg(queue_name) FILTER (WHERE budget = 0), '{}') AS blocked
                FROM budgets WHERE key_name IS NULL),
            suspect AS MATERIALIZED (
                SELECT id, handler, state FROM jobs
                WHERE \(request.isolateSuspects)::bool AND \(wanted)::bigint > 0 AND (SELECT ok FROM live)
                  AND state = 'interrupted' AND crashes >= \(request.suspectCrashes)::bigint \(claimFilter: request)
                  AND (queue || '') <> ALL((SELECT blocked FROM controlled)::text[]) AND NOT EXISTS (
                      SELECT 1 FROM budgets b WHERE b.queue_name = jobs.queue AND b.key_name = jobs.concurrency_key AND b.budget = 0)
                ORDER BY priority DESC, run_at, id LIMIT 1 FOR UPDATE SKIP LOCKED),
            due AS MATERIALIZED (
                SELECT id, queue, handler, priority, run_at, attempts FROM jobs
                WHERE \(wanted)::bigint > 0 AND (SELECT ok FROM live) AND state = 'scheduled' AND run_at <= (SELECT now FROM t)
                ORDER BY run_at LIMIT 1000 FOR UPDATE SKIP LOCKED),
            interrupted AS MATERIALIZED (
                SELECT id, handler, state, priority, run_at FROM jobs
                WHERE \(wanted)::bigint > 0 AND (SELECT ok FROM live) AND NOT EXISTS (SELECT 1 FROM suspect)
                  AND state = 'interrupted' \(claimFilter: request) AND (queue || '') <> ALL((SELECT names FROM controlled)::text[])
                ORDER BY priority DESC, run_at, id LIMIT \(wanted)::bigint FOR UPDATE SKIP LOCKED),
            ready AS MATERIALIZED (
                SELECT id, handler, state, priority, run_at FROM jobs
                WHERE \(wanted)::bigint > 0 AND (SELECT ok FROM live) AND NOT EXISTS (SELECT 1 FROM suspect)
                  AND state IN ('queued', 'retrying') AND run_at <= (SELECT now FROM t) \(claimFilter: request)
                  AND (queue || '') <> ALL((SELECT names FROM controlled)::text[])
                ORDER BY priority DESC, run_at, id
                LIMIT greatest(\(wanted)::bigint - (SELECT count(*) FROM interrupted), 0) FOR UPDATE SKIP LOCKED),
            -- The queues with limits: per queue, at most its budget of jobs in claim order (interrupted first), none
            -- of a key with no slot left; `admitted` then counts each key's and each queue's against their budgets.
            limited AS MATERIALIZED (
                SELECT x.*, b.budget AS queue_budget, b.per_key FROM budgets b CROSS JOIN LATERAL (
                    SELECT id, handler, state, 0 AS k, priority, run_at, queue, concurrency_key FROM jobs
                    WHERE NOT EXISTS (SELECT 1 FROM suspect) AND state = 'interrupted' AND (queue || '') = b.queue_name
                      \(claimFilter: request) AND NOT EXISTS (
                          SELECT 1 FROM budgets kb WHERE kb.queue_name = jobs.queue AND kb.key_name = jobs.concurrency_key AND kb.budget = 0)
                    ORDER BY priority DESC, run_at, id LIMIT least(b.budget, \(wanted)::bigint) FOR UPDATE SKIP LOCKED) AS x
                WHERE b.key_name IS NULL AND b.budget > 0
                UNION ALL
                SELECT x.*, b.budget, b.per_key FROM budgets b CROSS JOIN LATERAL (
                    SELECT id, handler, state, 1 AS k, priority, run_at, queue, concurrency_key FROM jobs
                    WHERE NOT EXISTS (SELECT 1 FROM suspect) AND state IN ('queued', 'retrying') AND run_at <= (SELECT now FROM t)
                      AND (queue || '') = b.queue_name \(claimFilter: request) AND NOT EXISTS (
                          SELECT 1 FROM budgets kb WHERE kb.queue_name = jobs.queue AND kb.key_name = jobs.concurrency_key AND kb.budget = 0)
                    ORDER BY priority DESC, run_at, id LIMIT least(b.budget, \(wanted)::bigint) FOR UPDATE SKIP LOCKED) AS x
                WHERE b.key_name IS NULL AND b.budget > 0),
            keyed AS (
                SELECT l.*, l.concurrency_key IS NULL OR l.per_key IS NULL OR row_number() OVER (
                           PARTITION BY l.queue, l.concurrency_key ORDER BY l.k, l.priority DESC, l.run_at, l.id)
                       <= coalesce((SELECT kb.budget FROM budgets kb WHERE kb.queue_name = l.queue AND kb.key_name = l.concurrency_key), l.per_key) AS fits
                FROM limited l),
            admitted AS (
                SELECT id, handler, state, k, priority, run_at FROM (
                    SELECT y.*, row_number() OVER (PARTITION BY y.queue ORDER BY y.k, y.priority DESC, y.run_at, y.id) AS qn FROM keyed y WHERE y.fits) AS z
                WHERE z.qn <= z.queue_budget),
            ordered AS (
                SELECT id, handler, state, row_number() OVER (ORDER BY k, priority DESC, run_at, id) AS rn FROM (
                    SELECT id, handler, state, 0 AS k, priority, run_at FROM interrupted
                    UNION ALL SELECT id, handler, state, 1, priority, run_at FROM ready
                    UNION ALL SELECT id, handler, state, k, priority, run_at FROM admitted
                    UNION ALL SELECT id, handler, 'scheduled', 1, priority, run_at FROM due
                    WHERE NOT EXISTS (SELECT 1 FROM suspect) \(claimFilter: request) AND (queue || '') <> ALL((SELECT names FROM controlled)::text[])) AS pool),
            cut AS (
                SELECT min(rn) AS first_other FROM ordered
                WHERE rn > \(request.limit)::bigint AND NOT (\(request.aheadHandlers == nil)::bool OR handler = ANY(\(request.aheadHandlers ?? [])::text[]))),
            picked AS (
                SELECT id, handler, state, 1::bigint AS rn FROM suspect WHERE NOT \(request.busy)::bool AND \(request.limit)::bigint > 0
                UNION ALL
                SELECT o.id, o.handler, o.state, o.rn FROM ordered o, cut
                WHERE o.rn <= \(wanted)::bigint AND (o.rn <= \(request.limit)::bigint OR cut.first_other IS NULL OR o.rn < cut.first_other)),
            promoted AS (
                UPDATE jobs j SET state = 'queued', updated_at = t.now FROM due d, t
                WHERE j.id = d.id AND NOT EXISTS (SELECT 1 FROM picked p WHERE p.id = d.id)),
            stamps AS (
                SELECT * FROM unnest(\(stamps.map(\.key))::text[], \(stamps.map(\.value.name))::text[],
                                     \(stamps.map(\.value.version))::text[], \(stamps.map(\.value.sha256))::text[])
                         AS s(handler, name, version, sha256)),
            claimed AS (
                UPDATE jobs j SET state = 'running', attempts = j.attempts + 1, worker_id = \(worker)::text, updated_at = t.now,
                       cancel_requested_at = NULL, claim_token = pg_current_xact_id()::text::bigint,
                       plugin_name = CASE WHEN s.handler IS NULL THEN j.plugin_name ELSE s.name END,
                       plugin_version = CASE WHEN s.handler IS NULL THEN j.plugin_version ELSE s.version END,
                       plugin_sha256 = CASE WHEN s.handler IS NULL THEN j.plugin_sha256 ELSE s.sha256 END
                FROM picked p LEFT JOIN stamps s ON s.handler = p.handler CROSS JOIN t
                WHERE j.id = p.id
                RETURNING j.*, p.state AS from_state, p.rn),
            starts AS (
                INSERT INTO queue_starts (queue, seq, at, n)
                SELECT c.queue, min(b.last_seq) + count(*), min(t.now), count(*)
                FROM claimed c CROSS JOIN t JOIN budgets b ON b.queue_name = c.queue AND b.key_name IS NULL AND b.rated
                GROUP BY c.queue),
            -- A job of a limited queue finished while the queue (or its key) had no slot left: a slot is free, which
            -- idle workers held back by the limit wait for. A queue with slots to spare wakes nobody (every finish
            -- woke every idle peer into a round for nothing). Without budgets (a round that claims nothing), any
            -- finish of a limited queue wakes.
            woken AS (
                SELECT pg_notify(\(unescaped: "'\(PostgresJournal.wakeChannel)'"), 'slot') FROM (
                    SELECT 1 FROM finished f JOIN queues q ON q.name = f.queue
                    WHERE (q.concurrency IS NOT NULL OR q.per_key_concurrency IS NOT NULL)
                      AND (NOT EXISTS (SELECT 1 FROM budgets)
                           OR EXISTS (SELECT 1 FROM budgets b WHERE b.queue_name = f.queue AND b.budget = 0
                                      AND (b.key_name IS NULL OR b.key_name = f.concurrency_key)))
                    LIMIT 1) AS slot),
            events AS (
                INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker_id, pid, reason)
                SELECT job_id, at, from_state, to_state, attempt, worker_id, pid, reason FROM (
                    SELECT 1 AS g, f.id AS job_id, t.now AS at, 'running' AS from_state, f.state AS to_state, f.attempts AS attempt,
                           \(worker)::text AS worker_id, \(pid)::int AS pid,
                           CASE WHEN f.state = 'retrying' THEN f.reason || \(unescaped: Round.iso8601SQL("f.run_at")) ELSE f.reason END AS reason
                    FROM finished f, t
                    UNION ALL
                    SELECT 2, d.id, t.now, 'scheduled', 'queued', d.attempts, NULL, \(pid)::int, 'due' FROM due d, t
                    UNION ALL
                    SELECT 3, c.id, t.now, CASE WHEN c.from_state = 'scheduled' THEN 'queued' ELSE c.from_state END, 'running',
                           c.attempts, \(worker)::text, \(pid)::int,
                           CASE WHEN c.from_state = 'interrupted' THEN 'resumed' ELSE 'claimed' END
                    FROM claimed c, t) AS e
                ORDER BY g, job_id)
            SELECT \(unescaped: Round.claimedColumns), 'claimed' AS kind, c.rn AS ord, NULL::text AS now_state, NULL::text AS holder,
                   false AS applied, c.claim_token
            FROM claimed c LEFT JOIN job_checkpoints ON job_checkpoints.job_id = c.id
            UNION ALL
            SELECT \(unescaped: Round.noJobColumns), 'finished', f.ord, f.state, NULL, true, NULL FROM finished f
            UNION ALL
            SELECT \(unescaped: Round.noJobColumns), 'finished', i.ord, cur.state, cur.worker_id, false, NULL
            FROM input i LEFT JOIN jobs cur ON cur.id = i.id WHERE i.ord NOT IN (SELECT ord FROM finished)
            UNION ALL
            SELECT \(unescaped: Round.noJobColumns), 'not live', 0, NULL, NULL, false, NULL FROM live WHERE NOT ok
            UNION ALL
            SELECT \(unescaped: Round.noJobColumns), 'woke', 0, NULL, NULL, false, NULL FROM woken
            UNION ALL
            -- Asked for jobs and claimed none: when the next one falls due, by the same clock reading as the claim.
            SELECT \(unescaped: Round.noJobColumns), 'next', 0, NULL, NULL, false, least(
                (SELECT min(run_at) FROM jobs WHERE state = 'scheduled' AND run_at > t.now),
                (SELECT min(run_at) FROM jobs WHERE state IN ('queued', 'retrying') AND state = 'retrying' AND run_at > t.now),
                -- held back by a full rate window: when it frees a slot
                (SELECT min(next_at) FROM budgets WHERE key_name IS NULL AND budget = 0))
            FROM t, live WHERE live.ok AND \(wanted)::bigint > 0 AND NOT EXISTS (SELECT 1 FROM claimed)
            """
    }
}
