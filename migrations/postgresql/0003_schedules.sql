-- 0003_schedules (PostgreSQL): durable schedules and the record of their ticks; the same as the SQLite journal's
-- 0007. Never edit this file once shipped.

-- One row per schedule; a worker fires it (`worker run`) when next_tick has come.
CREATE TABLE schedules (
    name                text    PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 200),
    handler             text    NOT NULL,
    cron                text    NOT NULL,
    timezone            text    NOT NULL,
    payload             text    NOT NULL CHECK (payload::jsonb IS NOT NULL),
    queue               text    NOT NULL,
    priority            integer NOT NULL,
    missed              text    NOT NULL CHECK (missed IN ('skip', 'latest', 'all')),  -- what missed ticks get
    catch_up_window_ms  bigint  NOT NULL CHECK (catch_up_window_ms >= 0),              -- for missed = 'all'
    no_overlap          boolean NOT NULL,
    paused_at           bigint,                   -- NULL unless paused
    created_at          bigint  NOT NULL,
    updated_at          bigint  NOT NULL,
    last_tick           bigint,                   -- the newest tick decided (fired, skipped or missed); NULL: none yet
    last_job            bigint,                   -- the job of the latest fire or manual run
    next_tick           bigint                    -- when it fires next; NULL: never again
);

-- Append-only: every fire, skip, miss, manual run and operator change of a schedule. A missed range is one row
-- (tick = its first, last_tick = its last, count = how many), however long the outage.
CREATE TABLE schedule_events (
    id          bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    schedule    text    NOT NULL,                 -- not a foreign key: the record outlives a removed schedule
    at          bigint  NOT NULL,
    outcome     text    NOT NULL CHECK (outcome IN ('fired', 'skipped', 'missed', 'manual', 'changed')),
    tick        bigint,
    last_tick   bigint,
    count       integer NOT NULL CHECK (count >= 0),
    job_id      bigint,
    worker_id   text,
    pid         integer NOT NULL,
    reason      text    NOT NULL
);
-- A tick is decided once: the guarantee of one job per tick whatever the number of workers.
CREATE UNIQUE INDEX schedule_events_tick ON schedule_events (schedule, tick) WHERE tick IS NOT NULL;
CREATE INDEX schedule_events_schedule ON schedule_events (schedule, id);
