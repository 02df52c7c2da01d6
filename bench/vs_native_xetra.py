"""The project's Xetra DAG (dags/xetra_daily.py) as part of bench/vs_native.py's workload.

One moto S3 server for the whole run holds one generated trading day in the public bucket's
layout; every setup's Airflow gets the pipeline's connections and variables the way the demo gives
them (localcluster/demo_airflow.py's upload_sample and pipeline_env, as the demo calls them), and
triggers one run of that day as its load starts. Spark runs at the DAG's default, local[2] on the
host that runs the task. The day is fixed (a Friday the tests use too), so the manual run never
meets the run the scheduler creates for yesterday's interval once the DAG is unpaused (that one
finds no source files: it fails or skips at ingest, without Spark).
"""

from __future__ import annotations

import time
from datetime import date
from pathlib import Path
from typing import Any

from localcluster.airflow_site import REPO, Site
from localcluster.pgserver import PgServer

DAG_FILE = REPO / "dags" / "xetra_daily.py"
DAG_ID = "xetra_daily"
DAY = date(2019, 1, 4)
TICKERS = 8  # a small day: the run must not dominate the bench


class XetraSource:
    """The S3 server and the day's source files, shared by every setup of one run."""

    def __init__(self, pg: PgServer, workdir: Path) -> None:
        self.pg = pg
        self.workdir = workdir
        self.s3: Any = None
        self.env: dict[str, str] = {}

    def start(self, env: dict[str, str]) -> None:
        from localcluster.demo_airflow import DBNAME, pipeline_env, upload_sample
        from localcluster.s3server import LAKE_BUCKET, PUBLIC_BUCKET, S3Server

        self.s3 = S3Server(self.workdir, env).start()
        self.s3.create_bucket(PUBLIC_BUCKET)
        self.s3.create_bucket(LAKE_BUCKET)
        upload_sample(self.s3, self.workdir, PUBLIC_BUCKET, [DAY], TICKERS)
        # The load task writes the day's prices to the demo's database (its connection names it).
        if DBNAME not in self.pg.psql("SELECT datname FROM pg_database").split():
            self.pg.create_database(DBNAME)
        self.env = pipeline_env(self.pg, self.s3.endpoint, LAKE_BUCKET, PUBLIC_BUCKET)

    def stop(self) -> None:
        if self.s3 is not None:
            self.s3.stop()


def trigger(site: Site, run_id: str) -> None:
    """Triggers the day's run, then unpauses the DAG (a paused DAG's runs are never scheduled)."""
    site.airflow(
        "dags", "trigger", DAG_ID, "--run-id", run_id, "--logical-date", f"{DAY.isoformat()}T00:00:00+00:00"
    )
    site.query("UPDATE dag SET is_paused = false WHERE dag_id = %s", (DAG_ID,))


def result(site: Site, run_id: str, timeout_s: float) -> dict[str, Any]:
    """Waits up to ``timeout_s`` for the run to end; its state, duration and task tries."""
    t0 = time.monotonic()
    rows: list[tuple[Any, ...]] = []
    while True:
        rows = site.query(
            "SELECT state, start_date, end_date FROM dag_run WHERE dag_id = %s AND run_id = %s",
            (DAG_ID, run_id),
        )
        if rows and rows[0][0] in ("success", "failed"):
            break
        if time.monotonic() - t0 > timeout_s:
            break
        time.sleep(2)
    tries = site.query(
        "SELECT task_id, try_number, state FROM task_instance WHERE dag_id = %s AND run_id = %s "
        "ORDER BY task_id",
        (DAG_ID, run_id),
    )
    if not rows:
        return {"state": "never created", "duration_s": float("nan"), "tries": {}}
    state, start, end = rows[0]
    done = end is not None and start is not None and state in ("success", "failed")
    return {
        "state": str(state) if done else f"{state} after {timeout_s:.0f} s more",
        "duration_s": (end - start).total_seconds() if done else float("nan"),
        "tries": {t: f"{s} (try {n})" for t, n, s in tries},
    }
