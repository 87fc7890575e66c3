-- Dead jobs per queue, counted at every /metrics scrape for alerting, read through this partial index instead of
-- the whole history.
CREATE INDEX jobs_dead ON jobs (queue) WHERE state = 'dead';
