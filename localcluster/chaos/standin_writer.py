#!/usr/bin/env python3
"""The chaos suite's stand-in scheduler: `scripts/standin-scheduler` plus database writes.

Like the shared stand-in it records its life as JSON lines in STANDIN_LOG ({"ev": "start" |
"tick" | "stop" | "overlap", "node", "term", "pid", "mono", "wall"}) and holds an flock on
STANDIN_LOCK for its whole life, so the exact overlap check of tests/support works unchanged:
the namespaces isolate the network, not the filesystem, and CLOCK_MONOTONIC is machine-wide.

In addition a thread writes one row every STANDIN_WRITE_MS through its node's own PostgreSQL
role (STANDIN_DB, a libpq conninfo naming that role), the way an Airflow scheduler does all its
work through the metadata database:

    INSERT INTO chaos_writes (cluster, node, term, pid, host_wall) VALUES (...)

`chaos_writes.at` defaults to clock_timestamp(): the database's clock, the only one that orders
rows from different hosts. A write that fails (login revoked, session terminated, network cut)
is counted as "denied" and retried on a new connection; the counters go into the stop record
and, every second, into a "writes" record.

Environment: AIRFLOW_FAILOVER_NODE / _TERM (from the daemon), STANDIN_LOG, STANDIN_LOCK,
STANDIN_TICK_MS (default 10), STANDIN_DB, STANDIN_CLUSTER, STANDIN_WRITE_MS (default 5).
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import sys
import threading
import time

NODE = os.environ.get("AIRFLOW_FAILOVER_NODE", "?")
TERM = int(os.environ.get("AIRFLOW_FAILOVER_TERM", "0"))
LOG = os.environ.get("STANDIN_LOG")
TICK = int(os.environ.get("STANDIN_TICK_MS", "10")) / 1000.0
LOCK = os.environ.get("STANDIN_LOCK")
DB = os.environ.get("STANDIN_DB")
CLUSTER = os.environ.get("STANDIN_CLUSTER", "?")
WRITE = int(os.environ.get("STANDIN_WRITE_MS", "5")) / 1000.0

_fd = os.open(LOG, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644) if LOG else None
counts = {"written": 0, "denied": 0}
last_error = [""]


def emit(ev: str, **extra: object) -> None:
    rec = {
        "ev": ev,
        "node": NODE,
        "term": TERM,
        "pid": os.getpid(),
        "mono": time.monotonic(),
        "wall": time.time(),
        **extra,
    }
    if _fd is not None:
        os.write(_fd, (json.dumps(rec) + "\n").encode())  # one O_APPEND write: no interleaving


def writer() -> None:
    import psycopg2  # the venv's; imported here so the records start even if it is slow

    conn = None
    while True:
        try:
            if conn is None:
                conn = psycopg2.connect(DB, connect_timeout=2, options="-c statement_timeout=2000")
                conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(
                    "INSERT INTO chaos_writes (cluster, node, term, pid, host_wall) "
                    "VALUES (%s, %s, %s, %s, %s)",
                    (CLUSTER, NODE, TERM, os.getpid(), time.time()),
                )
            counts["written"] += 1
            time.sleep(WRITE)
        except Exception as e:  # noqa: BLE001 - every failure is a denied write, then retry
            counts["denied"] += 1
            last_error[0] = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
            try:
                if conn is not None:
                    conn.close()
            except Exception:  # noqa: BLE001
                pass
            conn = None
            time.sleep(0.05)


def on_term(signum: int, frame: object) -> None:
    emit("stop", **counts, error=last_error[0])
    os._exit(0)  # the writer thread may sit in a blocking call: leave at once


def main() -> int:
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    emit("start")
    if LOCK:
        lock_fd = os.open(LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            emit("overlap")
            fcntl.flock(lock_fd, fcntl.LOCK_EX)  # then wait our turn, so each overlap counts once
    if DB:
        threading.Thread(target=writer, daemon=True).start()
    last = time.monotonic()
    while True:
        time.sleep(TICK)
        emit("tick")
        if time.monotonic() - last >= 1.0:
            last = time.monotonic()
            emit("writes", **counts, error=last_error[0])


if __name__ == "__main__":
    sys.exit(main())
