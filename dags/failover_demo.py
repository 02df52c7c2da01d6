"""``failover_demo``: a small DAG of short sequential tasks for the failover end-to-end tests.

Six tasks ``step_1`` -> ... -> ``step_6``, each sleeping a few seconds (``FAILOVER_DEMO_TASK_SECONDS``,
default 3). Manually triggered only. Each task is retried (a task whose scheduler host died is
failed or reset by the next scheduler and must run again).

When ``FAILOVER_DEMO_DIR`` is set, every try appends JSON lines to ``<dir>/records.jsonl`` (start
and end, with the node that ran it from ``AIRFLOW_FAILOVER_NODE``, pid, try number, wall clock)
and holds an exclusive ``flock`` on ``<dir>/<run_id>.lock`` while its body runs. The tasks are
sequential, so two bodies of one run alive at once is a fault: a try that finds the lock taken
records ``overlap`` (the kernel drops the lock the instant a holder dies, so this is exact). The
TaskInstance table (hostname, pid, try_number, start/end) records the same for Airflow's view.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
from datetime import datetime, timedelta
from typing import Any

from airflow.sdk import DAG, task

STEPS = 6


def _record(path: str, rec: dict[str, Any]) -> None:
    line = json.dumps(rec, sort_keys=True) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        f.write(line)
        f.flush()
        fcntl.flock(f, fcntl.LOCK_UN)


@task
def step(**context: Any) -> str:
    seconds = float(os.environ.get("FAILOVER_DEMO_TASK_SECONDS", "3"))
    out_dir = os.environ.get("FAILOVER_DEMO_DIR")
    ti = context["ti"]
    who = {
        "dag_id": ti.dag_id,
        "run_id": ti.run_id,
        "task_id": ti.task_id,
        "try": ti.try_number,
        "node": os.environ.get("AIRFLOW_FAILOVER_NODE", socket.gethostname()),
        "term": os.environ.get("AIRFLOW_FAILOVER_TERM"),
        "pid": os.getpid(),
    }
    if not out_dir:
        time.sleep(seconds)
        return f"{who['task_id']} on {who['node']}"
    records = os.path.join(out_dir, "records.jsonl")
    with open(os.path.join(out_dir, f"{ti.run_id}.lock"), "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _record(records, {**who, "ev": "overlap", "t": time.time()})
            fcntl.flock(lock, fcntl.LOCK_EX)
        _record(records, {**who, "ev": "start", "t": time.time()})
        time.sleep(seconds)
        _record(records, {**who, "ev": "end", "t": time.time()})
    return f"{who['task_id']} on {who['node']}"


with DAG(
    dag_id="failover_demo",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    max_active_runs=1,
    default_args={"retries": 3, "retry_delay": timedelta(seconds=2)},
    tags=["failover", "test"],
):
    previous = None
    for i in range(1, STEPS + 1):
        current = step.override(task_id=f"step_{i}")()
        if previous is not None:
            previous >> current
        previous = current
