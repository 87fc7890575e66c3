"""The producer of scripts/bench-postgres's enqueue-to-start scenario: enqueues N no-op jobs ONE PER TRANSACTION at a
steady RATE per second (each send at its own due time start + i/RATE, on whichever of CONNECTIONS connections is
free, so a slow commit does not shift the rest); prints one JSON line with the pace it kept.
  worker:   the plain-SQL enqueue documented in docs/journal.md ("On PostgreSQL"), which sends
            pg_notify('worker_jobs', ...) at its commit, as an application in another language would run it
  pgqueuer: pgqueuer's own `Queries.enqueue` of one job (its trigger notifies at the commit)
Usage: PGDSN=... python enqueue.py worker|pgqueuer N RATE"""
import asyncio
import os
import statistics
import sys
import time

import asyncpg

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers", "pgqueuer"))
from common import DSN, report, run  # noqa: E402  (the pgqueuer peer's DSN, event loop and output line)

# docs/journal.md, "On PostgreSQL", without a unique key: the job, its `enqueued` event and one wake-up, in one
# statement and so one transaction (asyncpg runs each statement outside an explicit transaction on its own).
WORKER_ENQUEUE = """
WITH job AS (
    INSERT INTO jobs (handler, queue, state, priority, payload, max_attempts, run_at, created_at, updated_at)
    VALUES ('noop', 'default', 'queued', 0, '{}', 25, worker_micros(), worker_micros(), worker_micros())
    RETURNING id, state),
event AS (
    INSERT INTO job_events (job_id, at, from_state, to_state, attempt, worker_id, pid, reason)
    SELECT id, worker_micros(), NULL, state, 0, NULL, 0, 'enqueued' FROM job)
SELECT id, pg_notify('worker_jobs', 'n') FROM job
"""
CONNECTIONS = 4


async def sender(peer: str):
    """A connection of its own and the call that enqueues one job on it."""
    connection = await asyncpg.connect(DSN)
    if peer == "worker":
        statement = await connection.prepare(WORKER_ENQUEUE)
        return connection, statement.fetchrow
    from pgqueuer import Queries
    from pgqueuer.db import AsyncpgDriver
    queries = Queries(AsyncpgDriver(connection))
    return connection, lambda: queries.enqueue(["noop"], [None], [0])


async def main(peer: str, n: int, rate: float) -> None:
    # Each job is sent at its due time on whichever connection is free, without waiting for the commits before it
    # (a durable commit takes longer than the gap between two sends on a loaded machine): the pace stays steady.
    senders = [await sender(peer) for _ in range(CONNECTIONS)]
    free: asyncio.Queue = asyncio.Queue()
    for _, send in senders:
        free.put_nowait(send)

    durations = []  # of each send, from its due time to its commit's answer: the enqueue's own share of the latency

    async def one(due: float) -> None:
        send = await free.get()
        try:
            await send()
            durations.append(time.perf_counter() - due)
        finally:
            free.put_nowait(send)

    late = 0  # jobs sent more than one period after their due time (the producer fell behind)
    tasks = []
    start = time.perf_counter()
    for i in range(n):
        due = start + i / rate
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        elif -delay > 1 / rate:
            late += 1
        tasks.append(asyncio.create_task(one(due)))
    await asyncio.gather(*tasks)
    seconds = time.perf_counter() - start
    for connection, _ in senders:
        await connection.close()
    report(peer=peer, phase="paced-enqueue", jobs=n, rate_asked=rate, connections=CONNECTIONS, seconds=round(seconds, 3),
           jobs_per_s=round(n / seconds), late_sends=late,
           send_median_ms=round(statistics.median(durations) * 1000, 2),
           send_p99_ms=round(statistics.quantiles(durations, n=100)[98] * 1000, 2))


run(main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3])))
