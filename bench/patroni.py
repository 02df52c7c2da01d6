#!/usr/bin/env python3
"""Database failovers under real Patroni (issue 21): a throwaway etcd and two Patroni-managed
PostgreSQL nodes on loopback, three airflow-failover daemons with the stand-in scheduler, their
conninfo listing both PostgreSQL nodes with target_session_attrs=read-write. Faults:

  switchover  patronictl switchover to the replica (planned: the primary shuts down cleanly)
  failover    patronictl failover to the replica
  kill9       kill -9 of the primary's Patroni and PostgreSQL together (Patroni promotes the
              replica once the leader key expires: its ttl, 10 s here)

Per trial: the time from the fault to the new primary accepting writes (Patroni's doing), from
then to the next scheduler start (0: the active kept its scheduler, no restart), and whether two
schedulers ever ran at once (the stand-in's lock file, exact) or a term went back. Run as root
(PostgreSQL and Patroni run as `postgres`), build/ built, Debian's patroni and etcd-server:

    .venv/bin/python bench/patroni.py --trials 5
    .venv/bin/python bench/patroni.py --trials 5 --ttl-ms 3000 --faults kill9
"""

from __future__ import annotations

import argparse
import datetime
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

from localcluster.chaos.patroni import PatroniCluster, why_unavailable
from localcluster.cluster import REPO, Cluster
from localcluster.pgserver import PgServer

FAULTS = ("switchover", "failover", "kill9")


def load() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def trial(pc: PatroniCluster, fault: str, ttl_ms: int | None, workdir: Path) -> dict[str, Any]:
    c = Cluster(
        cast(PgServer, pc),  # conninfo() and psql() are all Cluster uses
        workdir,
        size=3,
        ttl_ms=ttl_ms or 0,  # 0: the daemon's defaults; a TTL alone: the daemon derives the rest
        lease_defaults=ttl_ms is None,
        heartbeats=True,
    )
    out: dict[str, Any] = {"fault": fault, "problems": []}
    try:
        c.start()
        c.wait_active(timeout=60)
        time.sleep(1.0)
        old = pc.primary()
        assert old is not None
        new = next(n for n in pc.nodes if n is not old)
        before = {i.pid for i in c.live_instances()}
        t0 = time.monotonic()
        if fault == "switchover":
            res = pc.patronictl("switchover", "--leader", old.name, "--candidate", new.name, "--force")
        elif fault == "failover":
            res = pc.patronictl("failover", "--candidate", new.name, "--force")
        else:
            old.kill9()
            res = subprocess.CompletedProcess([], 0, "", "")
        if res.returncode != 0:
            out["problems"].append(f"patronictl {fault}: {res.stdout.strip()} {res.stderr.strip()}")
        pc.wait_for(lambda: new.role() == "primary", 120, f"{new.name} primary")
        t_w = time.monotonic()
        out["writable_s"] = t_w - t0
        c.wait_for(lambda: c.live_instances(), 60, "a scheduler after the database failover")
        time.sleep(3 * (ttl_ms or 1300) / 1000)
        if {i.pid for i in c.live_instances()} & before:
            out["failover_s"] = 0.0
        else:
            starts = [i.start for i in c.instances() if i.start > t0 and i.pid not in before]
            out["failover_s"] = max(0.0, min(starts) - t_w) if starts else None
        try:
            c.assert_no_overlap()
            out["overlap"] = False
        except AssertionError as e:
            out["overlap"] = True
            out["problems"].append(str(e).splitlines()[0])
        try:
            c.assert_terms_grow()
        except AssertionError as e:
            out["problems"].append(str(e).splitlines()[0])
    finally:
        c.stop_all()
    # the lost node back as a replica for the next trial
    if fault == "kill9":
        pc.restart_node(old)
    else:
        time.sleep(1)
    pc.wait_streaming(180)
    return out


def fmt(v: float | None) -> str:
    return "—" if v is None else (f"{v * 1000:.0f} ms" if v < 1 else f"{v:.2f} s")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--trials", type=int, default=5)
    ap.add_argument("--faults", default=",".join(FAULTS))
    ap.add_argument("--ttl-ms", type=int, help="lease.ttl_ms (default: the daemon's default)")
    args = ap.parse_args()
    why = why_unavailable()
    if why:
        print(f"bench/patroni.py: {why}", file=sys.stderr)
        return 2
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    began = time.monotonic()
    started = datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC")
    pc = PatroniCluster().start()
    results: dict[str, list[dict[str, Any]]] = {}
    try:
        for fault in args.faults.split(","):
            results[fault] = []
            for n in range(args.trials):
                r = trial(pc, fault, args.ttl_ms, pc.root / f"{fault}-{n}")
                results[fault].append(r)
                print(
                    f"  {fault} {n + 1}/{args.trials}: writable after {fmt(r.get('writable_s'))}, "
                    f"scheduler {fmt(r.get('failover_s'))} after that, overlap {r.get('overlap')}"
                    f"{', PROBLEMS ' + str(r['problems']) if r['problems'] else ''}",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        pc.destroy()
    print(
        "\n| Patroni fault | trials | new primary writable (median / worst) | next scheduler after that "
        "(median / worst) | kept the scheduler | overlap |"
    )
    print("|---|---|---|---|---|---|")
    for fault, rs in results.items():
        w = [r["writable_s"] for r in rs if r.get("writable_s") is not None]
        f = [r["failover_s"] for r in rs if r.get("failover_s") is not None]
        kept = sum(1 for r in rs if r.get("failover_s") == 0.0)
        wm, ww = (statistics.median(w), max(w)) if w else (None, None)
        fm, fw = (statistics.median(f), max(f)) if f else (None, None)
        print(
            f"| {fault} | {len(rs)} | {fmt(wm)} / {fmt(ww)} | {fmt(fm)} / {fmt(fw)} | {kept} "
            f"| {sum(1 for r in rs if r.get('overlap'))} |"
        )
    print(
        f"\n{started}, commit {commit.stdout.strip()}, ttl_ms {args.ttl_ms or 'default'}, "
        f"{(time.monotonic() - began) / 60:.1f} min, load at the end {load()}; "
        f"command: bench/patroni.py {' '.join(sys.argv[1:])}"
    )
    return 1 if any(r["problems"] for rs in results.values() for r in rs) else 0


if __name__ == "__main__":
    sys.exit(main())
