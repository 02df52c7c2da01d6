#!/usr/bin/env python3
"""Failover benchmark with a real Apache Airflow 3 scheduler at Airflow's DEFAULT scheduler
settings (issue 13): how long after a fault Airflow works again, for each configuration side by
side in one run.

    .venv/bin/python bench/airflow_failover.py --trials 5 [--baseline-trials 1] [--json FILE]
    (build/airflow-failover must be built)

Faults, each in the middle of a task:
  kill9      kill -9 of the active daemon (its guard kills the scheduler's session, releases)
  host_loss  the daemon, its guard and every managed process SIGKILLed together (the lease
             expires on the database clock, ttl 3000 ms)

Configurations:
  today      no takeover step, no warm process (Airflow's own orphan check, every 300 s)
  takeover   the takeover step (`airflow` section): the winner closes out the dead node's jobs
  takeover+warm   the takeover step, and the scheduler as a warm standby (processes[].warm,
             python -m airflow_failover_warm scheduler): pre-started on node-b with its
             imports done, sent go with the term instead of being started

Columns, each from the fault, on the database clock: lease taken (the other node's became_active
event); new SchedulerJob row (its start_date); its first heartbeat; the interrupted task's new try
running (start_date of its first try on the other node); the run finished (dag_run end_date).
Each trial also counts overlapping tries of the run (must be 0).

Setup (once): a throwaway PostgreSQL, an Airflow metadata DB migrated once, one api-server and one
dag-processor (localcluster.airflow_site). Each trial: two fresh daemons (ttl 3000 ms, renew
500 ms) managing `airflow scheduler`; node-a starts first and its scheduler heartbeats, node-b
joins as standby; the demo DAG (sequential tasks of --task-seconds) is triggered; when a task
body after step_1 runs on node-a, the fault hits node-a.

The `today` configuration waits up to 300 s for the orphan check per trial, so it runs
--baseline-trials times (default 1). --json FILE writes the medians of the most complete
configuration (`takeover+warm`) as {"kill9": {"lease_s": ..., "job_row_s": ...,
"heartbeat_s": ..., "task_rerun_s": ..., "run_done_s": ...}, "host_loss": {...}}.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

from localcluster.airflow_pair import TakeoverPair, overlapping_tries, running_task
from localcluster.airflow_site import Site, wait_for
from localcluster.cluster import daemon_binary
from localcluster.pgserver import PgServer

COLS = [
    ("lease_s", "lease taken"),
    ("job_row_s", "SchedulerJob row"),
    ("heartbeat_s", "first heartbeat"),
    ("task_rerun_s", "task's new try running"),
    ("run_done_s", "run finished"),
]
FAULTS = ("kill9", "host_loss")
CONFIGS = ("today", "takeover", "takeover+warm")
NAN = float("nan")


def _job_heartbeat(site: Site, node: str, after: Any) -> dict[str, Any] | None:
    for j in site.scheduler_jobs():
        if j["hostname"] == node and j["start_date"] > after and j["latest_heartbeat"] > j["start_date"]:
            return j
    return None


def trial(site: Site, config: str, fault: str, rerun_timeout: float) -> dict[str, float]:
    pair = TakeoverPair(site, takeover=config != "today", warm=config == "takeover+warm")
    try:
        t0 = site.db_now()
        pair.start(["node-a"])
        wait_for(lambda: pair.active() == "node-a", 60, "node-a active", diagnose=pair.diagnose)
        wait_for(
            lambda: _job_heartbeat(site, "node-a", t0),
            180,
            "node-a's scheduler to heartbeat",
            diagnose=pair.diagnose,
        )
        pair.start(["node-b"])
        if config == "takeover+warm":
            wait_for(
                lambda: any(e["node_id"] == "node-b" and e["kind"] == "warm_ready" for e in pair.events()),
                120,
                "node-b's warm scheduler",
                diagnose=pair.diagnose,
            )
        run_id = f"bench-{config}-{fault}-{uuid.uuid4().hex[:6]}"
        site.trigger(run_id)
        victim = wait_for(
            lambda: running_task(site, run_id), 240, f"a task body of {run_id}", diagnose=pair.diagnose
        )
        t_fault = site.db_now()
        if fault == "kill9":
            pair.kill9("node-a")
        else:
            pair.lose_host("node-a")

        def since(ts: Any) -> float:
            return (ts - t_fault).total_seconds() if ts is not None else NAN

        job = pair.wait_scheduler_job("node-b", t_fault, 120)
        hb = wait_for(
            lambda: _job_heartbeat(site, "node-b", t_fault),
            120,
            "node-b's first heartbeat",
            every=0.05,
            diagnose=pair.diagnose,
        )

        def rerun() -> Any:
            starts = [
                t["start_date"]
                for t in site.task_instances(run_id)
                if t["task_id"] == victim["task_id"]
                and t["hostname"] == "node-b"
                and t["start_date"] is not None
            ]
            return min(starts) if starts else None

        rerun_at = wait_for(
            rerun, rerun_timeout, f"{victim['task_id']} to run on node-b", every=0.1, diagnose=pair.diagnose
        )
        wait_for(
            lambda: site.dag_run_state(run_id) in ("success", "failed"),
            300,
            f"{run_id} to finish",
            every=0.5,
            diagnose=pair.diagnose,
        )
        end = site.query("SELECT end_date, state FROM dag_run WHERE run_id = %s", (run_id,))[0]
        won = [e for e in pair.events() if e["kind"] == "became_active" and e["node_id"] == "node-b"]
        lease_s = (datetime.fromisoformat(won[-1]["at"]) - t_fault).total_seconds() if won else NAN
        overlaps = overlapping_tries(site.task_instances(run_id))
        r = {
            "lease_s": lease_s,
            "job_row_s": since(job["start_date"]),
            "heartbeat_s": since(hb["latest_heartbeat"]),
            "task_rerun_s": since(rerun_at),
            "run_done_s": since(end[0]),
            "overlaps": float(len(overlaps)),
        }
        print(
            f"{config:9} {fault:9} "
            + " ".join(f"{k} {r[k]:7.2f}" for k, _ in COLS)
            + f" run {end[1]} overlaps {len(overlaps)}",
            file=sys.stderr,
            flush=True,
        )
        return r
    finally:
        leftover = pair.stop()
        if leftover:
            raise AssertionError(f"schedulers outlived their daemons: {leftover}")


def median(rs: list[dict[str, float]], k: str) -> float:
    vals = [r[k] for r in rs if not math.isnan(r[k])]
    return statistics.median(vals) if vals else NAN


def fmt(v: float) -> str:
    return "n/a" if math.isnan(v) else f"{v:.2f} s"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument(
        "--trials",
        type=int,
        default=5,
        help="trials per fault with the takeover step (with and without warm standby)",
    )
    ap.add_argument(
        "--baseline-trials",
        type=int,
        default=1,
        help="trials per fault of today's behaviour (each waits ~300 s); 0 skips it",
    )
    ap.add_argument("--task-seconds", type=float, default=8.0)
    ap.add_argument("--faults", default=",".join(FAULTS), help="comma-separated subset of kill9,host_loss")
    ap.add_argument(
        "--configs", default=",".join(CONFIGS), help="comma-separated subset of " + ",".join(CONFIGS)
    )
    ap.add_argument("--json", type=Path, help="write the medians of the full configuration (takeover+warm)")
    args = ap.parse_args()
    faults = [f for f in args.faults.split(",") if f]
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        ap.error(f"--faults: unknown {unknown}; choose from {list(FAULTS)}")
    configs = [c for c in args.configs.split(",") if c]
    unknown = sorted(set(configs) - set(CONFIGS))
    if unknown:
        ap.error(f"--configs: unknown {unknown}; choose from {list(CONFIGS)}")
    daemon_binary()
    load = os.getloadavg()
    print(
        f"load average at start: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; {os.cpu_count()} cores",
        file=sys.stderr,
    )

    results: dict[tuple[str, str], list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="af-airflow-bench-") as tmp, PgServer() as pg:
        # Airflow's defaults throughout: no lowered orphan interval or health threshold.
        site = Site(
            pg,
            Path(tmp) / "site",
            task_seconds=args.task_seconds,
            orphan_threshold_s=None,
            orphan_check_s=None,
        )
        try:
            t0 = time.monotonic()
            site.migrate()
            site.start_shared()
            site.wait_ready()
            print(f"setup {time.monotonic() - t0:.1f} s", file=sys.stderr)
            for fault in faults:
                for config in configs:
                    n = args.baseline_trials if config == "today" else args.trials
                    results[(config, fault)] = [trial(site, config, fault, 420) for _ in range(n)]
        finally:
            site.stop()

    print("| fault | configuration | trials | " + " | ".join(t for _, t in COLS) + " | overlapping tries |")
    print("|---|---|---:|" + "---:|" * (len(COLS) + 1))
    for fault in faults:
        for config in CONFIGS:
            rs = results.get((config, fault), [])
            if not rs:
                print(f"| {fault} | {config} | 0 | " + " | ".join("skipped" for _ in COLS) + " | |")
                continue
            print(
                f"| {fault} | {config} | {len(rs)} | "
                + " | ".join(fmt(median(rs, k)) for k, _ in COLS)
                + f" | {int(sum(r['overlaps'] for r in rs))} |"
            )
    if args.json:
        out = {f: {k: median(results.get(("takeover+warm", f), []), k) for k, _ in COLS} for f in faults}
        args.json.write_text(json.dumps(out, indent=2) + "\n")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
