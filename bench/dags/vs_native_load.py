"""The synthetic workload of ``bench/vs_native.py``: many small DAGs and one long task.

- ``vs_native_00`` .. ``vs_native_NN`` (``VS_NATIVE_DAGS``, default 50): ten independent short
  tasks each, scheduled every 30 s (no catch-up, two active runs at most), created PAUSED: the
  bench unpauses them for the load phase, so "at rest" means no DAG runs at all. Fifty of them ask
  for 1000 task instances a minute, more than two cores run: the scheduler is saturated.
- ``vs_native_long``: one task that runs ``VS_NATIVE_LONG_SECONDS`` (default 900) and, every
  0.25 s while its body executes, appends a beat (try number, pid, node, wall clock) to
  ``$VS_NATIVE_DIR/beats.jsonl``. A frozen or killed try writes no beats, so two tries that both
  wrote beats at the same moment really ran at once; the bench judges overlap from these beats.

Retries are on (1 s delay): a try whose host died must run again as a new try.
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

N_DAGS = int(os.environ.get("VS_NATIVE_DAGS", "50"))
TASKS_PER_DAG = 10
BEAT_S = 0.25


@task
def short() -> None:
    """As little as a task can do: what remains is Airflow's own cost per task instance."""


@task
def long_task(**context: Any) -> None:
    seconds = float(os.environ.get("VS_NATIVE_LONG_SECONDS", "900"))
    out_dir = os.environ.get("VS_NATIVE_DIR")
    ti = context["ti"]
    who = {
        "run_id": ti.run_id,
        "try": ti.try_number,
        "pid": os.getpid(),
        "node": os.environ.get("AIRFLOW_FAILOVER_NODE", socket.gethostname()),
    }
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if out_dir:
            line = json.dumps({**who, "t": time.time()}) + "\n"
            with open(os.path.join(out_dir, "beats.jsonl"), "a", encoding="utf-8") as f:
                fcntl.flock(f, fcntl.LOCK_EX)
                f.write(line)
                fcntl.flock(f, fcntl.LOCK_UN)
        time.sleep(BEAT_S)


for i in range(N_DAGS):
    with DAG(
        dag_id=f"vs_native_{i:02d}",
        schedule=timedelta(seconds=30),
        start_date=datetime(2024, 1, 1),
        catchup=False,
        max_active_runs=2,
        is_paused_upon_creation=True,
        default_args={"retries": 1, "retry_delay": timedelta(seconds=1)},
        tags=["vs_native"],
    ):
        for j in range(TASKS_PER_DAG):
            short.override(task_id=f"t{j}")()

with DAG(
    dag_id="vs_native_long",
    schedule=None,
    start_date=datetime(2024, 1, 1),
    catchup=False,
    is_paused_upon_creation=False,
    default_args={"retries": 5, "retry_delay": timedelta(seconds=1)},
    tags=["vs_native"],
):
    # Ahead of the load in every queue: the interrupted task must be the long one.
    long_task.override(task_id="long", priority_weight=1000, weight_rule="absolute")()
