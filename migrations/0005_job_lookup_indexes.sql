-- `worker jobs` and the bulk `retry`/`cancel` page through jobs by id (keyset: `id > ?` or `id < ?`). With a
-- filter on handler, queue, or a state that finished badly, these keep the cost of a page to its size instead of a
-- scan of the whole history (SQLite appends the rowid to each index, so each is ordered by id within its value).
-- The partial one is written to only when a job becomes or stops being dead or cancelled, not on every transition.
CREATE INDEX jobs_handler ON jobs (handler);
CREATE INDEX jobs_queue ON jobs (queue);
CREATE INDEX jobs_stopped ON jobs (state) WHERE state = 'dead' OR state = 'cancelled';
