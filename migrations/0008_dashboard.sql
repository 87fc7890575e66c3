-- 0008_dashboard: what the admin endpoint's dashboard reads and records. Never edit this file once shipped: add a
-- new NNNN_name.sql instead.

-- Who asked for a queue's change: `operator` (the command line) or `dashboard (client ADDRESS)`.
ALTER TABLE queue_events ADD COLUMN origin TEXT NOT NULL DEFAULT 'operator';

-- The jobs a schedule fired, by id within the schedule (SQLite appends the rowid): a page of them costs its size.
CREATE INDEX jobs_schedule ON jobs (schedule) WHERE schedule IS NOT NULL;
-- Cancelled jobs per queue, counted through this index as dead ones are through jobs_dead, not through the history.
CREATE INDEX jobs_cancelled ON jobs (queue) WHERE state = 'cancelled';
-- The stopped workers, newest first, for the dashboard's list of workers (the table keeps every worker that ran).
CREATE INDEX workers_stopped ON workers (stopped_at) WHERE stopped_at IS NOT NULL;

-- Attempts that ended, per minute and per worker that recorded them, for the dashboard's charts: one upsert per
-- round (not per job) in the transaction that records the outcomes. `failed`: the job went retrying or dead;
-- `interrupted`: a drain gave it back, or a recovery took it back from a dead worker (worker_id is then the
-- recoverer, or 'recovery' for an operator's). Rows older than 7 days are deleted by the workers' heartbeats.
CREATE TABLE job_activity (
    minute      INTEGER NOT NULL,          -- the minute's start, microseconds since the epoch
    worker_id   TEXT    NOT NULL,
    completed   INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    interrupted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (minute, worker_id)
) WITHOUT ROWID;
