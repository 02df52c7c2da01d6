#!/usr/bin/env python3
"""Failover benchmark: for each fault, the time from the fault to the start of the next
scheduler, over repeated trials, with three real daemons on loopback, a real PostgreSQL and the
stand-in scheduler (which stops at once on SIGTERM). Prints a Markdown table.

    .venv/bin/python bench/failover.py --trials 10        (or python3; build/ must be built)

Each trial uses a fresh cluster with the default config (lease ttl 3000 ms, renew 500 ms) and
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.cluster import Cluster  # noqa: E402
from support.pgserver import PgServer  # noqa: E402


def guard_pid(daemon_pid: int) -> int | None:
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmd = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == daemon_pid and cmd.endswith(b"guard\x00"):
            return int(entry.name)
    return None


def new_start_after(cluster: Cluster, t0: float, node: str | None = None,
                    other_than: str | None = None) -> float | None:
    for inst in cluster.instances():
        if inst.start > t0 and (node is None or inst.node == node) and inst.node != other_than:
            return inst.start
    return None


Fault = Callable[[Cluster, str, PgServer], tuple[float, str | None, str | None]]


def kill9(c: Cluster, active: str, pg: PgServer) -> tuple[float, str | None, str | None]:
    t0 = time.monotonic()
    c.signal(active, signal.SIGKILL)
    return t0, None, active


def kill9_with_guard(c: Cluster, active: str, pg: PgServer) -> tuple[float, str | None, str | None]:
    """The daemon and its guard both die (as on a host crash): only the lease expiry helps."""
    proc = c.nodes[active].proc
    assert proc
    g = guard_pid(proc.pid)
    t0 = time.monotonic()
    if g:
        os.kill(g, signal.SIGKILL)
    c.signal(active, signal.SIGKILL)
    return t0, None, active


def sigterm(c: Cluster, active: str, pg: PgServer) -> tuple[float, str | None, str | None]:
    t0 = time.monotonic()
    c.signal(active, signal.SIGTERM)
    return t0, None, active


def crash_once(c: Cluster, active: str, pg: PgServer) -> tuple[float, str | None, str | None]:
    crash = c.nodes[active].crash_file
    crash.touch()
    c.wait_for(lambda: any(r["ev"] == "crash" for r in c.records()), 10, "crash")
    t0 = [r["mono"] for r in c.records() if r["ev"] == "crash"][-1]
    crash.unlink()
    return t0, active, None


def sigstop(c: Cluster, active: str, pg: PgServer) -> tuple[float, str | None, str | None]:
    t0 = time.monotonic()
    c.signal(active, signal.SIGSTOP)
    return t0, None, active


def pg_restart(c: Cluster, active: str, pg: PgServer) -> tuple[float, str | None, str | None]:
    """PostgreSQL down for 2 s; timed from when it is back."""
    pg.stop()
    time.sleep(2)
    pg.start()
    return time.monotonic(), None, None


FAULTS: dict[str, tuple[str, Fault]] = {
    "kill9": ("kill -9 of the active daemon (its guard releases)", kill9),
    "sigterm": ("SIGTERM of the active daemon (graceful hand-over)", sigterm),
    "crash": ("scheduler crash, restarted in place", crash_once),
    "sigstop": ("SIGSTOP of the active daemon (frozen)", sigstop),
    "host": ("kill -9 of daemon and guard (host loss)", kill9_with_guard),
    "pgrestart": ("PostgreSQL stopped 2 s and started (from restart)", pg_restart),
}


def trial(pg: PgServer, root: Path, fault: Fault, n: int) -> tuple[float, bool]:
    c = Cluster(pg, root / f"t{n}-{time.monotonic_ns()}")
    try:
        c.start()
        active = c.wait_active(timeout=30)
        time.sleep(1.0)
        t0, node, other = fault(c, active, pg)
        start = c.wait_for(lambda: new_start_after(c, t0, node, other), 60, "next scheduler",
                           every=0.01)
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
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="af-bench-") as tmp, PgServer() as pg:
        for key in args.faults.split(","):
            label, fault = FAULTS[key]
            times, overlaps = [], 0
            for n in range(args.trials):
                dt, overlap = trial(pg, Path(tmp), fault, n)
                times.append(dt)
                overlaps += overlap
                print(f"  {key} trial {n + 1}/{args.trials}: {dt * 1000:.0f} ms", file=sys.stderr,
                      flush=True)
            rows.append((label, len(times), statistics.median(times), max(times), overlaps))
    print("\n| fault | trials | fault → next scheduler start, median | worst | overlaps |")
    print("|---|---|---|---|---|")
    for label, n, med, worst, ov in rows:
        print(f"| {label} | {n} | {med * 1000:.0f} ms | {worst * 1000:.0f} ms | {ov} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
