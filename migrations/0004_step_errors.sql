-- A step whose closure threw. `error` (at most 4096 bytes) and `failed_attempt` are the last failure: kept when a
-- later attempt begins the step again, so that an operator sees why it failed, and cleared when it completes.
-- `failed_at` is set only while that failure is the step's latest news: a new begin clears it. So a step with
-- `failed_at` failed; one begun, not completed and without `failed_at` is in flight or was in a worker that died.
ALTER TABLE job_steps ADD COLUMN failed_at INTEGER;
ALTER TABLE job_steps ADD COLUMN failed_attempt INTEGER;
ALTER TABLE job_steps ADD COLUMN error TEXT;
