"""``minutely_work``: work in flight for as long as the demo runs.

A run every minute with one task ``work`` that sleeps ``MINUTELY_WORK_SECONDS`` (default 40 s):
at any moment a task is running more often than not, so a kill -9 of the active daemon, or the
dashboard's terminate button, interrupts a task, and the demo shows it run again on the new
active node. Beside the Xetra backfill, which finishes its few days after a few minutes.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime, timedelta

from airflow.sdk import DAG, task

with DAG(
    dag_id="minutely_work",
    schedule="* * * * *",
    start_date=datetime(2024, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    # A try interrupted by a failover is reset by the new scheduler and runs again.
    default_args={"retries": 3, "retry_delay": timedelta(seconds=5)},
    tags=["failover", "demo"],
):

    @task
    def work() -> str:
        seconds = float(os.environ.get("MINUTELY_WORK_SECONDS", "40"))
        time.sleep(seconds)
        return f"worked {seconds:.0f} s on {socket.gethostname()}"

    work()
