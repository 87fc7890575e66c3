-- 0006_queue_controls: what operators set per queue (a pause, limits, a default timeout), and the job fields the
-- controls act on. Never edit this file once shipped: add a new NNNN_name.sql instead.

-- Jobs of one queue with the same concurrency key share the queue's per-key limit.
ALTER TABLE jobs ADD COLUMN concurrency_key TEXT CHECK (concurrency_key IS NULL OR length(concurrency_key) BETWEEN 1 AND 200);
-- How long one attempt may run, in milliseconds; NULL: the queue's default (queues.timeout_ms), if any.
ALTER TABLE jobs ADD COLUMN timeout_ms INTEGER CHECK (timeout_ms IS NULL OR timeout_ms >= 1);
-- The schedule that fired the job; NULL for jobs enqueued otherwise.
ALTER TABLE jobs ADD COLUMN schedule TEXT;

-- One row per queue an operator set something on; a queue without a row has no pause and no limits.
CREATE TABLE queues (
    name                TEXT    PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 200),
    paused_at           INTEGER,                  -- NULL unless paused: no worker claims from it meanwhile
    concurrency         INTEGER CHECK (concurrency IS NULL OR concurrency >= 1),       -- running at once, all workers
    rate_limit          INTEGER CHECK (rate_limit IS NULL OR rate_limit >= 1),          -- starts per window...
    rate_window_ms      INTEGER CHECK (rate_window_ms IS NULL OR rate_window_ms >= 1),  -- ...of this many ms
    per_key_concurrency INTEGER CHECK (per_key_concurrency IS NULL OR per_key_concurrency >= 1),
    timeout_ms          INTEGER CHECK (timeout_ms IS NULL OR timeout_ms >= 1),          -- default per attempt
    updated_at          INTEGER NOT NULL,
    CHECK ((rate_limit IS NULL) = (rate_window_ms IS NULL))
) WITHOUT ROWID;

-- The starts (claims, resumes) of jobs of rate-limited queues in the current window: one row per claim, with its
-- `n` starts and `seq` the queue's count of starts after it; claims prune the rows older than the window, so that
-- the window holds `max(seq)` minus the oldest row's `seq - n` starts: a few index lookups and one row per claim,
-- however many starts a high limit lets in.
CREATE TABLE queue_starts (
    queue TEXT    NOT NULL,
    seq   INTEGER NOT NULL,
    at    INTEGER NOT NULL,
    n     INTEGER NOT NULL CHECK (n >= 1),
    PRIMARY KEY (queue, seq)
) WITHOUT ROWID;
CREATE INDEX queue_starts_at ON queue_starts (queue, at);

-- Operators' changes of queues (pause, resume, limits), for audit: kept, never pruned.
CREATE TABLE queue_events (
    id     INTEGER PRIMARY KEY,
    queue  TEXT    NOT NULL,
    at     INTEGER NOT NULL,
    action TEXT    NOT NULL CHECK (action IN ('paused', 'resumed', 'set')),
    detail TEXT    NOT NULL,  -- what the queue's settings are after the change
    pid    INTEGER            -- the process that made it
);
