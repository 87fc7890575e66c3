"""A pgqueuer consumer for scripts/bench-postgres's enqueue-to-start scenario: one QueueManager (continuous mode,
its default batch size 10, woken by its own LISTEN/NOTIFY) running no-op jobs until SIGTERM. Prints "ready:" once
it listens, so that the producer starts only then. Usage: PGDSN=... python consume.py"""
import asyncio
import os
import signal
import sys

import asyncpg
from pgqueuer import Queries, QueueManager
from pgqueuer.core import listeners
from pgqueuer.db import AsyncpgDriver

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "peers", "pgqueuer"))
from common import DSN, run  # noqa: E402

listen = listeners.initialize_notice_event_listener


async def listen_then_announce(*args, **kwargs) -> None:
    """pgqueuer's own set-up of its LISTEN, then the line the script waits for (it has no hook of its own)."""
    await listen(*args, **kwargs)
    print("ready: listening", flush=True)


listeners.initialize_notice_event_listener = listen_then_announce


async def main() -> None:
    manager = QueueManager(Queries(AsyncpgDriver(await asyncpg.connect(DSN))))

    @manager.entrypoint("noop")
    async def noop(job) -> None:
        pass

    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, manager.shutdown.set)
    await manager.run()


run(main())
