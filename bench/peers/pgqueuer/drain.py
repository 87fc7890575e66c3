"""Drains the queue of no-op jobs with K pgqueuer consumer processes (one QueueManager each, drain mode, batch size
B) started together; prints one JSON line with the jobs done and jobs/s. Each consumer imports, connects and
registers its entrypoint first, then waits for "go": the time counted runs from "go" to the last consumer's exit,
so Python's start-up is not charged to pgqueuer.
Usage: PGDSN=... python drain.py CONSUMERS BATCH_SIZE        (a consumer: python drain.py --consume BATCH_SIZE)"""
import json
import os
import subprocess
import sys
import time
from datetime import timedelta

from common import DSN, report, run


async def consume(batch_size: int) -> None:
    import asyncpg
    from pgqueuer import Queries, QueueManager
    from pgqueuer.db import AsyncpgDriver
    from pgqueuer.types import QueueExecutionMode

    manager = QueueManager(Queries(AsyncpgDriver(await asyncpg.connect(DSN))))
    done = 0

    @manager.entrypoint("noop")
    async def noop(job) -> None:
        nonlocal done
        done += 1

    print("ready", flush=True)
    sys.stdin.readline()
    await manager.run(batch_size=batch_size, mode=QueueExecutionMode.drain, dequeue_timeout=timedelta(seconds=1))
    print(json.dumps({"done": done}), flush=True)


def main(consumers: int, batch_size: int) -> None:
    here = os.path.dirname(os.path.abspath(__file__))
    children = [
        subprocess.Popen([sys.executable, os.path.join(here, "drain.py"), "--consume", str(batch_size)],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        for _ in range(consumers)
    ]
    for child in children:
        if child.stdout.readline().strip() != "ready":
            sys.exit("a pgqueuer consumer did not start")
    start = time.perf_counter()
    for child in children:
        child.stdin.write("go\n")
        child.stdin.flush()
    done = 0
    for child in children:
        output = child.stdout.read()
        if child.wait() != 0:
            sys.exit(f"a pgqueuer consumer exited {child.returncode}")
        done += json.loads(output.strip().splitlines()[-1])["done"]
    seconds = time.perf_counter() - start
    report(peer="pgqueuer", phase="drain", consumers=consumers, batch_size=batch_size, jobs=done,
           seconds=round(seconds, 3), jobs_per_s=round(done / seconds))


if sys.argv[1] == "--consume":
    run(consume(int(sys.argv[2])))
else:
    main(int(sys.argv[1]), int(sys.argv[2]))
