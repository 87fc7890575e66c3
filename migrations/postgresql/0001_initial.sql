-- 0001_initial (PostgreSQL): the same tables as the SQLite journal's migrations 0001-0005, with what many workers
-- on many hosts need besides: a session lock key per worker and a per-claim token on each job.
-- Never edit this file once shipped: add a new NNNN_name.sql instead.
-- Times are bigint microseconds since the Unix epoch (UTC), always taken from the server's clock
-- (worker_micros()), never a host's: the hosts' clocks need not agree.

CREATE FUNCTION worker_micros() RETURNS bigint LANGUAGE sql STABLE
    AS $$ SELECT (extract(epoch FROM clock_timestamp()) * 1000000)::bigint $$;

-- Whether `value` is JSON as the payload column's CHECK takes it: to name the refused job of a batch.
CREATE FUNCTION worker_is_json(value text) RETURNS boolean LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
    PERFORM value::jsonb;
    RETURN true;
EXCEPTION WHEN others THEN
    RETURN false;
END $$;

-- Live workers register here; a job in state 'running' names the worker that holds it. A worker is live while
-- its session holds the advisory lock (7828075, lock_key) on the server: a process that dies, or
-- whose host the server gives up on, loses it.
CREATE SEQUENCE worker_lock_keys AS integer;
CREATE TABLE workers (
    id                 text    PRIMARY KEY,
    pid                integer NOT NULL,
    host               text    NOT NULL,
    process_started_at bigint,            -- the kernel's start time of pid on its host
    started_at         bigint  NOT NULL,
    heartbeat_at       bigint  NOT NULL,
    stopped_at         bigint,            -- NULL while the worker is live
    stop_reason        text,
    version            text    NOT NULL DEFAULT '',
    lock_key           integer NOT NULL UNIQUE DEFAULT nextval('worker_lock_keys'),
    server_started_at  bigint  NOT NULL   -- pg_postmaster_start_time() when it registered: tells a server restart
                                          -- (which frees every lock) from the death of the worker
);
CREATE INDEX workers_live ON workers (id) WHERE stopped_at IS NULL;

CREATE TABLE jobs (
    id                  bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY, -- never reused, even after pruning
    handler             text    NOT NULL CHECK (length(handler) BETWEEN 1 AND 200),
    queue               text    NOT NULL DEFAULT 'default' CHECK (length(queue) BETWEEN 1 AND 200),
    state               text    NOT NULL CHECK (state IN ('scheduled', 'queued', 'running', 'retrying', 'interrupted',
                                                          'completed', 'dead', 'cancelled')),
    priority            integer NOT NULL DEFAULT 0,        -- higher runs first
    payload             text    NOT NULL CHECK (payload::jsonb IS NOT NULL), -- JSON text, kept as written
    unique_key          text,
    attempts            integer NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    max_attempts        integer NOT NULL CHECK (max_attempts >= 1),
    crashes             integer NOT NULL DEFAULT 0,        -- times a worker died while running it
    run_at              bigint  NOT NULL,                  -- earliest start (scheduled, retrying)
    created_at          bigint  NOT NULL,
    updated_at          bigint  NOT NULL,
    finished_at         bigint,                            -- set on completed, dead, cancelled
    worker_id           text,                              -- holder while running, else the last one
    claim_token         bigint,                            -- new at every claim: fences the holder's writes
    last_error          text,
    cancel_requested_at bigint,                            -- a cancel asked for while it ran
    plugin_name         text,
    plugin_version      text,
    plugin_sha256       text
);
-- Claim order: priority (high first), then run_at, then id. Queries must repeat these WHERE terms exactly.
CREATE INDEX jobs_ready ON jobs (priority DESC, run_at, id) WHERE state IN ('queued', 'retrying');
CREATE INDEX jobs_interrupted ON jobs (priority DESC, run_at, id) WHERE state = 'interrupted';
CREATE INDEX jobs_scheduled ON jobs (run_at) WHERE state = 'scheduled';
CREATE INDEX jobs_running ON jobs (worker_id) WHERE state = 'running';
CREATE INDEX jobs_dead ON jobs (queue) WHERE state = 'dead';
CREATE INDEX jobs_handler ON jobs (handler, id);
CREATE INDEX jobs_queue ON jobs (queue, id);
CREATE INDEX jobs_stopped ON jobs (state, id) WHERE state IN ('dead', 'cancelled');
-- One unfinished job per key; a finished one frees the key.
CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)
    WHERE unique_key IS NOT NULL AND state NOT IN ('completed', 'dead', 'cancelled');
-- The hot table: vacuumed early, so claims do not walk dead index entries.
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.02, autovacuum_analyze_scale_factor = 0.02,
                      autovacuum_vacuum_cost_delay = 0);

-- One row per state transition, written in the same transaction as the change to jobs.state.
CREATE TABLE job_events (
    id         bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    job_id     bigint  NOT NULL,
    at         bigint  NOT NULL,
    from_state text,                -- NULL when the job was created
    to_state   text    NOT NULL,
    attempt    integer NOT NULL,    -- jobs.attempts after the transition
    worker_id  text,                -- NULL when not done by a worker (enqueue, retry, cancel commands)
    pid        integer NOT NULL,
    reason     text    NOT NULL
);
CREATE INDEX job_events_job ON job_events (job_id, id);

CREATE FUNCTION job_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'job_events is append-only';
    END IF;
    IF EXISTS (SELECT 1 FROM jobs WHERE id = OLD.job_id) THEN
        RAISE EXCEPTION 'job_events is append-only: delete the job first';
    END IF;
    RETURN OLD;
END $$;
CREATE TRIGGER job_events_append_only BEFORE UPDATE OR DELETE ON job_events
    FOR EACH ROW EXECUTE FUNCTION job_events_append_only();

-- The last checkpoint of a job: durable before the handler's checkpoint call returns.
CREATE TABLE job_checkpoints (
    job_id     bigint  PRIMARY KEY,
    data       bytea   NOT NULL,
    attempt    integer NOT NULL,
    updated_at bigint  NOT NULL
);

-- Named steps of a job: begun (completed_at NULL), done with their result, or failed (see the SQLite 0004).
CREATE TABLE job_steps (
    job_id         bigint  NOT NULL,
    name           text    NOT NULL,
    attempt        integer NOT NULL,
    started_at     bigint  NOT NULL,
    completed_at   bigint,
    result         bytea,
    failed_at      bigint,
    failed_attempt integer,
    error          text,
    PRIMARY KEY (job_id, name)
);

-- The handlers workers have served on this journal, to warn about an enqueue for a handler none ever served.
CREATE TABLE served_handlers (
    handler         text   PRIMARY KEY,
    first_served_at bigint NOT NULL,
    last_served_at  bigint NOT NULL
);
