-- 0007_schedules: durable schedules and the record of their ticks. Never edit this file once shipped: add a new
-- NNNN_name.sql instead.

-- One row per schedule; a worker fires it (`worker run`) when next_tick has come.
CREATE TABLE schedules (
    name                TEXT    PRIMARY KEY CHECK (length(name) BETWEEN 1 AND 200),
    handler             TEXT    NOT NULL,
    cron                TEXT    NOT NULL,
    timezone            TEXT    NOT NULL,
    payload             TEXT    NOT NULL CHECK (json_valid(payload)),
    queue               TEXT    NOT NULL,
    priority            INTEGER NOT NULL,
    missed              TEXT    NOT NULL CHECK (missed IN ('skip', 'latest', 'all')),  -- what missed ticks get
    catch_up_window_ms  INTEGER NOT NULL CHECK (catch_up_window_ms >= 0),              -- for missed = 'all'
    no_overlap          INTEGER NOT NULL CHECK (no_overlap IN (0, 1)),
    paused_at           INTEGER,                  -- NULL unless paused
    created_at          INTEGER NOT NULL,
    updated_at          INTEGER NOT NULL,
    last_tick           INTEGER,                  -- the newest tick decided (fired, skipped or missed); NULL: none yet
    last_job            INTEGER,                  -- the job of the latest fire or manual run
    next_tick           INTEGER                   -- when it fires next; NULL: never again
) WITHOUT ROWID;

-- Append-only: every fire, skip, miss, manual run and operator change of a schedule. A missed range is one row
-- (tick = its first, last_tick = its last, count = how many), however long the outage.
CREATE TABLE schedule_events (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    schedule    TEXT    NOT NULL,                 -- not a foreign key: the record outlives a removed schedule
    at          INTEGER NOT NULL,
    outcome     TEXT    NOT NULL CHECK (outcome IN ('fired', 'skipped', 'missed', 'manual', 'changed')),
    tick        INTEGER,
    last_tick   INTEGER,
    count       INTEGER NOT NULL CHECK (count >= 0),
    job_id      INTEGER,
    worker_id   TEXT,
    pid         INTEGER NOT NULL,
    reason      TEXT    NOT NULL
);
-- A tick is decided once: the guarantee of one job per tick whatever the number of workers.
CREATE UNIQUE INDEX schedule_events_tick ON schedule_events (schedule, tick) WHERE tick IS NOT NULL;
CREATE INDEX schedule_events_schedule ON schedule_events (schedule, id);
