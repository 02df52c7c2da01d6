#!/usr/bin/env python3
"""Failover benchmark with a real Apache Airflow 3 scheduler: the time from a kill -9 of the active
airflow-failover daemon to the new scheduler's job in Airflow's own ``job`` table, over several
trials. Prints a Markdown table (per trial and the median).

    .venv/bin/python bench/airflow_failover.py --trials 5        (build/airflow-failover must be built)

Setup (once): a throwaway PostgreSQL, an Airflow metadata DB migrated once, one api-server and one
dag-processor (the harness of tests/airflow). Each trial: two fresh daemons (lease ttl 3000 ms, renew
500 ms) managing ``airflow scheduler``; wait until the active node's scheduler job has heartbeat at
least once; read the database clock; kill -9 the active daemon; then poll the ``job`` table every
50 ms. All times are on the database clock (one host here, so the kill instant is exact to a few ms).

Columns: *lease* = the other node's ``became_active`` event; *job row* = the new SchedulerJob's
``start_date`` (the scheduler process is up, its job inserted); *first heartbeat* = the first
``latest_heartbeat`` written after that (the scheduler loop runs); *graceful stop* = SIGTERM of the
surviving daemon to its exit, i.e. the Airflow scheduler's own graceful shutdown.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the localcluster package

from localcluster.airflow_site import Pair, Site, daemon_binary, wait_for  # noqa: E402
from localcluster.pgserver import PgServer  # noqa: E402


def _heartbeat_after_start(site: Site, node: str, after: Any) -> dict[str, Any] | None:
    for j in site.scheduler_jobs():
        if (
            j["hostname"] == node
            and j["state"] == "running"
            and (after is None or j["start_date"] > after)
            and j["latest_heartbeat"] > j["start_date"]
        ):
            return j
    return None


def trial(site: Site, n: int) -> dict[str, float]:
    pair = Pair(site)
    pair.start()
    try:
        first = str(wait_for(pair.active, 30, "a daemon to win the lease", diagnose=pair.diagnose))
        other = next(x for x in pair.names if x != first)
        wait_for(
            lambda: _heartbeat_after_start(site, first, None),
            120,
            f"{first}'s scheduler to heartbeat",
            every=0.2,
            diagnose=pair.diagnose,
        )
        time.sleep(1.0)
        t_kill = site.db_now()
        pair.kill9(first)

        job = pair.wait_scheduler_job(other, t_kill, 120)
        row_s = (job["start_date"] - t_kill).total_seconds()
        hb = wait_for(
            lambda: _heartbeat_after_start(site, other, t_kill),
            120,
            f"{other}'s new scheduler job to heartbeat",
            every=0.05,
            diagnose=pair.diagnose,
        )
        hb_s = (hb["latest_heartbeat"] - t_kill).total_seconds()
        won = [e for e in pair.events() if e["kind"] == "became_active" and e["node_id"] == other]
        lease_s = (datetime.fromisoformat(won[-1]["at"]) - t_kill).total_seconds() if won else float("nan")

        proc = pair.nodes[other].proc
        assert proc is not None
        t0 = time.monotonic()
        proc.terminate()
        proc.wait(timeout=60)
        stop_s = time.monotonic() - t0
        print(
            f"trial {n}: kill -9 {first}; lease {lease_s:.3f} s, job row {row_s:.3f} s, "
            f"first heartbeat {hb_s:.3f} s, graceful stop {stop_s:.3f} s",
            file=sys.stderr,
            flush=True,
        )
        return {"lease": lease_s, "row": row_s, "heartbeat": hb_s, "stop": stop_s}
    finally:
        leftover = pair.stop()
        if leftover:
            raise AssertionError(f"schedulers outlived their daemons: {leftover}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--trials", type=int, default=5)
    args = ap.parse_args()
    daemon_binary()

    with tempfile.TemporaryDirectory(prefix="af-airflow-bench-") as tmp, PgServer() as pg:
        site = Site(pg, Path(tmp) / "site")
        try:
            t0 = time.monotonic()
            site.migrate()
            site.start_shared()
            site.wait_ready()
            print(
                f"setup (migrate, api-server, dag-processor) {time.monotonic() - t0:.1f} s", file=sys.stderr
            )
            results = [trial(site, i + 1) for i in range(args.trials)]
        finally:
            site.stop()

    cols = [
        ("lease", "lease taken"),
        ("row", "SchedulerJob row"),
        ("heartbeat", "first heartbeat"),
        ("stop", "graceful stop"),
    ]
    print("| trial | " + " | ".join(title for _, title in cols) + " |")
    print("|---|" + "---:|" * len(cols))
    for i, r in enumerate(results, 1):
        print(f"| {i} | " + " | ".join(f"{r[k]:.2f} s" for k, _ in cols) + " |")
    med = {k: statistics.median(r[k] for r in results) for k, _ in cols}
    print(f"| **median of {len(results)}** | " + " | ".join(f"**{med[k]:.2f} s**" for k, _ in cols) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
