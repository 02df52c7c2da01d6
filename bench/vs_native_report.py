"""bench/vs_native.py's table and the settings printed under it."""

from __future__ import annotations

import argparse
import math
import os
import subprocess
import sys
from typing import Any

from localcluster.airflow_site import REPO, venv_bin


# -- the table -----------------------------------------------------------------------------------------
def secs(v: float, waited: float) -> str:
    return f"not within {waited:.0f} s" if math.isnan(v) else f"{v:.1f} s"


def xetra(x: dict[str, Any] | None) -> str:
    if x is None:
        return "not run"
    if x["state"] == "success":
        return f"success in {x['duration_s']:.0f} s"
    failed = ", ".join(f"{t}: {s}" for t, s in x["tries"].items())
    return f"{x['state'].upper()} ({failed})"


def table(results: list[dict[str, Any]]) -> str:
    head = (
        "| setup | executor | fault (host hit) | scheduling again | long task executing again "
        "| ran twice at once | DAG files parsed again | statements/s rest / load | lock waits: "
        "samples % / most waiting / logged > 1 s | deadlocks | scheduler CPU % rest / load "
        "| TIs queued / done per min under load | Xetra day run under load |"
    )
    lines = [head, "|" + "---|" * 13]
    names = {
        "single": "single, supervised",
        "native": "native HA (2 schedulers)",
        "failover": "airflow-failover",
    }
    for res in results:
        if "error" in res:
            why = res["error"].splitlines()[0][:200]
            lines.append(f"| {names[res['setup']]} | {res['executor']} | failed: {why} |" + " |" * 10)
            continue
        rest, load = res["rest"], res["load"]
        cost = [
            f"{rest['statements_per_s']:.0f} / {load['statements_per_s']:.0f}",
            f"{load['lock_wait_sample_pct']:.0f} % / {load['max_waiting']:.0f} / "
            f"{rest['lock_waits_logged'] + load['lock_waits_logged']:.0f}",
            f"{rest['deadlocks'] + load['deadlocks']:.0f}",
            f"{rest['scheduler_cpu_pct']:.0f} / {load['scheduler_cpu_pct']:.0f}",
            f"{load['tis_queued_per_min']:.0f} / {load['tis_done_per_min']:.0f}",
            xetra(res.get("xetra")),
        ]
        for i, (fault, f) in enumerate(res["faults"].items()):
            task = secs(f["task_s"], f["waited_s"])
            if not math.isnan(f["task_s"]):
                task += f" ({f['task_try']} on {f['task_host']})"
            if res["executor"] == "celery" and f["task_try"] == "same try" and f["task_s"] < 5:
                task = "not interrupted (on the worker)"
            parse = secs(f["parse_s"], f["waited_s"])
            if math.isnan(f["parse_s"]) and not f["parser_left"]:
                parse = "never: no dag-processor left"
            twice = "no" if f["overlap_s"] == 0 else f"YES, {f['overlap_s']:.1f} s"
            fault_txt = {"host_loss": "host loss", "sigstop": "SIGSTOP 30 s"}[fault]
            if res["setup"] == "native" and f["victim"] == "host-b":
                f = {**f, "victim": "host-b, no dag-processor"}
            lines.append(
                f"| {names[res['setup']]} | {res['executor']} | {fault_txt} ({f['victim']}) "
                f"| {secs(f['sched_s'], f['waited_s'])} | {task} "
                f"| {twice} | {parse} | " + " | ".join(cost if i == 0 else ["″"] * len(cost)) + " |"
            )
    return "\n".join(lines)


def source_state() -> str:
    """The commit, taken when the run starts (the checkout may move on while it runs)."""
    commit = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=False
    ).stdout.strip()
    dirty = subprocess.run(
        ["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"`{commit}`{' (with uncommitted changes)' if dirty else ''}"


def settings(
    args: argparse.Namespace, started: str, results: list[dict[str, Any]], pg_version: str, source: str
) -> str:
    version = subprocess.run(
        [str(venv_bin() / "python"), "-c", "import airflow; print(airflow.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    loads = "; ".join(
        f"{r['setup']}/{r['executor']} {r.get('load_avg_start', '?')} → {r.get('load_avg_end', '?')}"
        for r in results
    )
    return "\n".join(
        [
            f"- date {started}, commit {source}, "
            f"Apache Airflow {version}, PostgreSQL {pg_version}, {os.cpu_count()} cores",
            f"- command: `.venv/bin/python bench/vs_native.py {' '.join(sys.argv[1:])}`; daemon binary "
            f"{os.environ.get('AIRFLOW_FAILOVER_BIN', 'build/airflow-failover')}",
            f"- workload: {args.dags} DAGs x 10 short tasks every 30 s, one long task; at rest "
            f"{args.rest_s:.0f} s, under load {args.load_s:.0f} s after {args.warmup_s:.0f} s of warm-up; "
            f"each fault measured for up to {args.trial_s:.0f} s; one trial per setup, executor and fault",
            "- Xetra: "
            + (
                "not run (--no-xetra)"
                if args.no_xetra
                else "one run of dags/xetra_daily.py for 2019-01-04 (8 instruments, moto S3, Spark local[2] "
                "on the task's host, the DAG's retry policy) triggered as the load starts; its time is "
                "dag_run start to end and may include a fault and the DAG's retry delay (2 min, then 4 min)"
            ),
            "- airflow-failover: daemon defaults (ttl_ms 1300), heartbeats on, takeover step for the "
            "scheduler, dag-processor and triggerer jobs, warm standby for all three",
            "- Airflow, every setup: parallelism 4 per scheduler, task_instance_heartbeat_timeout 30 s, "
            "min_file_process_interval 30 s, orphan settings at Airflow's defaults (30 s / 300 s); "
            "Celery: one worker host (never faulted), concurrency 4, RabbitMQ",
            f"- load average (1/5/15 min) at the start and end of each setup: {loads}",
        ]
    )
