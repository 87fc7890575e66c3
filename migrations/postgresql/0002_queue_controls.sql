-- 0002_queue_controls (PostgreSQL): what operators set per queue (a pause, limits, a default timeout), and the job
-- fields the controls act on; the same as the SQLite journal's 0006. Never edit this file once shipped.

-- Jobs of one queue with the same concurrency key share the queue's per-key limit.
ALTER TABLE jobs ADD COLUMN concurrency_key text CHECK (concurrency_key IS NULL OR length(concurrency_key) BETWEEN 1 AND 200);
-- How long one attempt may run, in milliseconds; NULL: the queue's default (queues.timeout_ms), if any.
ALTER TABLE jobs ADD COLUMN timeout_ms bigint CHECK (timeout_ms IS NULL OR timeout_ms >= 1);
-- The schedule that fired the job; NULL for jobs enqueued otherwise.
ALTER TABLE jobs ADD COLUMN schedule text;

-- One row per queue an operator set something on; a queue without a row has no pause and no limits.
CREATE TABLE queues (
    name                text    PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 200),
    paused_at           bigint,                   -- NULL unless paused: no worker claims from it meanwhile
    concurrency         integer CHECK (concurrency IS NULL OR concurrency >= 1),        -- running at once, all workers
    rate_limit          integer CHECK (rate_limit IS NULL OR rate_limit >= 1),          -- starts per window...
    rate_window_ms      bigint  CHECK (rate_window_ms IS NULL OR rate_window_ms >= 1),  -- ...of this many ms
    per_key_concurrency integer CHECK (per_key_concurrency IS NULL OR per_key_concurrency >= 1),
    timeout_ms          bigint  CHECK (timeout_ms IS NULL OR timeout_ms >= 1),          -- default per attempt
    updated_at          bigint  NOT NULL,
    CHECK ((rate_limit IS NULL) = (rate_window_ms IS NULL))
);

-- The starts (claims, resumes) of jobs of rate-limited queues in the current window: one row per claim, with its
-- `n` starts and `seq` the queue's count of starts after it; claims prune the rows older than the window, so that
-- the window holds `max(seq)` minus the oldest row's `seq - n` starts: a few index lookups and one row per claim,
-- however many starts a high limit lets in.
CREATE TABLE queue_starts (
    queue text   NOT NULL,
    seq   bigint NOT NULL,
    at    bigint NOT NULL,
    n     integer NOT NULL CHECK (n >= 1),
    PRIMARY KEY (queue, seq)
);
CREATE INDEX queue_starts_at ON queue_starts (queue, at);

-- Operators' changes of queues (pause, resume, limits), for audit: kept, never pruned.
CREATE TABLE queue_events (
    id     bigserial PRIMARY KEY,
    queue  text      NOT NULL,
    at     bigint    NOT NULL,
    action text      NOT NULL CHECK (action IN ('paused', 'resumed', 'set')),
    detail text      NOT NULL,  -- what the queue's settings are after the change
    pid    integer              -- the process that made it
);

-- What a round may claim from each queue with a pause or a limit (of `among`, empty: all), at `claim_at`: one row per
-- queue (key_name NULL) with `budget` jobs it may start (0 while paused or full), `per_key` its per-key limit,
-- `rated` whether starts are logged (`last_seq`: the number of the last), `next_at` when a full rate window frees a slot; then one row per concurrency
-- key with jobs running, `budget` more of that key. A round calls it before it picks jobs.
--
-- It first takes a transaction-level advisory lock (class 0x777175) per limited queue, in name order, and counts
-- after it. Being VOLATILE, each of its queries reads a snapshot taken after that lock, while the round's own
-- statement reads one taken before it: two rounds never both take a queue's last slot, as the second counts the
-- first's claims once it has the lock, which the first holds until it commits. Queues without settings take no
-- lock and cost one look at this empty-or-tiny table.
CREATE FUNCTION worker_queue_budgets(claim_at bigint, among text[])
RETURNS TABLE (queue_name text, key_name text, budget bigint, per_key bigint, rated boolean, next_at bigint, last_seq bigint)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    q record;
    n bigint;
    first_seq bigint;
BEGIN
    FOR q IN
        SELECT s.name, s.paused_at, s.concurrency, s.rate_limit, s.rate_window_ms, s.per_key_concurrency FROM queues s
        WHERE (s.paused_at IS NOT NULL OR s.concurrency IS NOT NULL OR s.rate_limit IS NOT NULL OR s.per_key_concurrency IS NOT NULL)
          AND (cardinality(among) = 0 OR s.name = ANY(among))
        ORDER BY s.name
    LOOP
        queue_name := q.name; key_name := NULL; per_key := q.per_key_concurrency; rated := q.rate_limit IS NOT NULL;
        next_at := NULL; last_seq := NULL; budget := 1000000000;
        IF q.paused_at IS NOT NULL THEN
            budget := 0;
            RETURN NEXT;
            CONTINUE;
        END IF;
        PERFORM pg_advisory_xact_lock(7827829, hashtext(q.name));
        IF q.concurrency IS NOT NULL THEN
            SELECT count(*) INTO n FROM jobs j WHERE j.state = 'running' AND (j.queue || '') = q.name;
            budget := least(budget, greatest(q.concurrency - n, 0));
        END IF;
        IF q.rate_limit IS NOT NULL THEN
            DELETE FROM queue_starts s WHERE s.queue = q.name AND s.at <= claim_at - q.rate_window_ms * 1000;
            SELECT s.seq - s.n INTO first_seq FROM queue_starts s WHERE s.queue = q.name ORDER BY s.seq LIMIT 1;
            SELECT max(s.seq) INTO last_seq FROM queue_starts s WHERE s.queue = q.name;
            n := coalesce(last_seq - first_seq, 0);
            last_seq := coalesce(last_seq, 0);
            budget := least(budget, greatest(q.rate_limit - n, 0));
            IF n >= q.rate_limit THEN  -- full: a slot frees when the start `rate_limit` back leaves the window
                SELECT s.at + q.rate_window_ms * 1000 INTO next_at FROM queue_starts s
                WHERE s.queue = q.name AND s.seq >= last_seq - q.rate_limit + 1 ORDER BY s.seq LIMIT 1;
            END IF;
        END IF;
        RETURN NEXT;
        IF q.per_key_concurrency IS NOT NULL AND budget > 0 THEN
            RETURN QUERY
                SELECT q.name, j.concurrency_key, greatest(q.per_key_concurrency - count(*), 0), q.per_key_concurrency::bigint, false, NULL::bigint,
                       NULL::bigint
                FROM jobs j WHERE j.state = 'running' AND (j.queue || '') = q.name AND j.concurrency_key IS NOT NULL
                GROUP BY j.concurrency_key;
        END IF;
    END LOOP;
END
$$;
