"""Shared by the pgqueuer bench scripts: the DSN and the event loop pgqueuer's own CLI uses (uvloop)."""
import asyncio
import json
import os
import sys

DSN = os.environ.get("PGDSN", "")
if not DSN:
    sys.exit("set PGDSN to postgresql://USER@HOST:PORT/DB?sslmode=disable")


def run(coro):
    try:
        import uvloop
        return uvloop.run(coro)
    except ImportError:
        return asyncio.run(coro)


def report(**fields) -> None:
    """One JSON line on standard output."""
    print(json.dumps(fields), flush=True)
