#!/usr/bin/env python3
"""Failover benchmark: for each fault, the time from the fault to the start of the next
scheduler, over repeated trials, with three real daemons on loopback, a real PostgreSQL and the
stand-in scheduler (which stops at once on SIGTERM). Prints a Markdown table.

    .venv/bin/python bench/failover.py --trials 10        (or python3; build/ must be built)

Each trial uses a fresh cluster with the daemon's default lease timings (no `lease` section) and
also checks the invariant: the overlap column counts trials where two schedulers lived at once.
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from localcluster import faults
from localcluster.cluster import Cluster
from localcluster.pgserver import PgServer


def new_start_after(
    cluster: Cluster, t0: float, node: str | None = None, other_than: str | None = None
) -> float | None:
    for inst in cluster.instances():
        if inst.start > t0 and (node is None or inst.node == node) and inst.node != other_than:
            return inst.start
    return None


Fault = Callable[[Cluster, str, PgServer], tuple[float, str | None, str | None]]


def kill9(c: Cluster, active: str, pg: PgServer) -> tuple[float, str | None, str | None]:
    return faults.kill9(c, active), None, active


def kill9_with_guard(c: Cluster, active: str, pg: PgServer) -> tuple[float, str | None, str | None]:
    """The daemon and its guard both die (as on a host crash): only the lease expiry helps."""
    return faults.kill9_with_guard(c, active), None, active


def sigterm(c: Cluster, active: str, pg: PgServer) -> tuple[float, str | None, str | None]:
    return faults.sigterm(c, active), None, active


def crash_once(c: Cluster, active: str, pg: PgServer) -> tuple[float, str | None, str | None]:
    crash = c.nodes[active].crash_file
    crash.touch()
    c.wait_for(lambda: any(r["ev"] == "crash" for r in c.records()), 10, "crash")
    t0 = [r["mono"] for r in c.records() if r["ev"] == "crash"][-1]
    crash.unlink()
    return t0, active, None


def sigstop(c: Cluster, active: str, pg: PgServer) -> tuple[float, str | None, str | None]:
    return faults.sigstop(c, active), None, active


def pg_restart(c: Cluster, active: str, pg: PgServer) -> tuple[float, str | None, str | None]:
    """PostgreSQL down for 2 s; timed from when it is back."""
    return faults.pg_restart(pg), None, None


def switchover(c: Cluster, active: str, pg: PgServer) -> tuple[float, str | None, str | None]:
    """`airflow-failover switchover --to` a named standby: from the command to its start."""
    target = next(n for n in sorted(c.nodes) if n != active)
    t0 = time.monotonic()
    res = c.cli("switchover", "--to", target, "--timeout", "20")
    if res.returncode != 0:
        raise RuntimeError(f"switchover failed: {res.stdout} {res.stderr}")
    return t0, target, None


FAULTS: dict[str, tuple[str, Fault]] = {
    "kill9": ("kill -9 of the active daemon (its guard releases)", kill9),
    "sigterm": ("SIGTERM of the active daemon (graceful hand-over)", sigterm),
    "crash": ("scheduler crash, restarted in place", crash_once),
    "sigstop": ("SIGSTOP of the active daemon (frozen)", sigstop),
    "host": ("kill -9 of daemon and guard (host loss)", kill9_with_guard),
    "pgrestart": ("PostgreSQL stopped 2 s and started (from restart)", pg_restart),
    "hb-kill9": ("kill -9 of the active daemon, heartbeats on", kill9),
    "hb-sigterm": ("SIGTERM hand-over, heartbeats on", sigterm),
    "hb-switchover": ("`switchover --to` a standby, heartbeats on", switchover),
    "hb-host": ("host loss (daemon and guard), heartbeats on", kill9_with_guard),
}


def db_load(pg: PgServer, root: Path, seconds: float, heartbeats: bool) -> dict[str, float]:
    """Statements per second each node sends at rest, from the daemons' own counters."""
    c = Cluster(
        pg, root / f"load-{heartbeats}-{time.monotonic_ns()}", heartbeats=heartbeats, lease_defaults=True
    )
    try:
        c.start()
        active = c.wait_active(timeout=30)
        time.sleep(3)

        def counts() -> dict[str, int]:
            return {n["node_id"]: n["counters"].get("db_statements", 0) for n in c.status()["nodes"]}

        a, t0 = counts(), time.monotonic()
        time.sleep(seconds)
        b, t1 = counts(), time.monotonic()
        rates = {n: (b[n] - a[n]) / (t1 - t0) for n in a}
        standby = [r for n, r in rates.items() if n != active]
        return {"active": rates[active], "standby": statistics.mean(standby)}
    finally:
        c.stop_all()


def trial(pg: PgServer, root: Path, fault: Fault, n: int, heartbeats: bool) -> tuple[float, bool]:
    c = Cluster(pg, root / f"t{n}-{time.monotonic_ns()}", heartbeats=heartbeats, lease_defaults=True)
    try:
        c.start()
        active = c.wait_active(timeout=30)
        time.sleep(1.0)
        t0, node, other = fault(c, active, pg)
        start = c.wait_for(lambda: new_start_after(c, t0, node, other), 60, "next scheduler", every=0.01)
        time.sleep(0.5)
        overlap = False
        try:
            c.assert_no_overlap()
        except AssertionError:
            overlap = True
        return float(start) - t0, overlap
    finally:
        for nd in c.nodes.values():
            if nd.proc and nd.proc.poll() is None:
                os.kill(nd.proc.pid, signal.SIGCONT)
        c.stop_all()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--faults", default=",".join(FAULTS), help="comma list of " + ",".join(FAULTS))
    ap.add_argument(
        "--load-seconds",
        type=float,
        default=10,
        help="measure database statements/s at rest for this long (0: skip)",
    )
    args = ap.parse_args()
    loads: list[tuple[str, dict[str, float]]] = []
    rows = []
    with tempfile.TemporaryDirectory(prefix="af-bench-") as tmp, PgServer() as pg:
        if args.load_seconds > 0:
            for hb in (False, True):
                loads.append(
                    (
                        "heartbeats on" if hb else "database only",
                        db_load(pg, Path(tmp), args.load_seconds, hb),
                    )
                )
        for key in args.faults.split(","):
            label, fault = FAULTS[key]
            times, overlaps = [], 0
            for n in range(args.trials):
                dt, overlap = trial(pg, Path(tmp), fault, n, key.startswith("hb-"))
                times.append(dt)
                overlaps += overlap
                print(f"  {key} trial {n + 1}/{args.trials}: {dt * 1000:.0f} ms", file=sys.stderr, flush=True)
            rows.append((label, len(times), statistics.median(times), max(times), overlaps))
    print("\n| fault | trials | fault → next scheduler start, median | worst | overlaps |")
    print("|---|---|---|---|---|")
    for label, n, med, worst, ov in rows:
        print(f"| {label} | {n} | {med * 1000:.0f} ms | {worst * 1000:.0f} ms | {ov} |")
    if loads:
        print("\n| database load at rest | active node | each standby |")
        print("|---|---|---|")
        for label, r in loads:
            print(f"| {label} | {r['active']:.1f} statements/s | {r['standby']:.1f} statements/s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
