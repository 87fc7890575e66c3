"""Bulk-enqueues N no-op pgqueuer jobs (entrypoint "noop", no payload) in chunks of 1000 on one connection;
prints one JSON line with jobs/s. Usage: PGDSN=... python enqueue.py N"""
import sys
import time

import asyncpg
from pgqueuer import Queries
from pgqueuer.db import AsyncpgDriver

from common import DSN, report, run

CHUNK = 1000


async def main(n: int) -> None:
    connection = await asyncpg.connect(DSN)
    queries = Queries(AsyncpgDriver(connection))
    start = time.perf_counter()
    for offset in range(0, n, CHUNK):
        k = min(CHUNK, n - offset)
        await queries.enqueue(["noop"] * k, [None] * k, [0] * k)
    seconds = time.perf_counter() - start
    await connection.close()
    report(peer="pgqueuer", phase="enqueue", jobs=n, chunk=CHUNK, seconds=round(seconds, 3), jobs_per_s=round(n / seconds))


run(main(int(sys.argv[1])))
