"""What the Airflow demo reads from Airflow's metadata database, for its view and its summary."""

from __future__ import annotations

from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from .airflow_site import Site
from .task_tries import TryWatcher

DAG_ID = "xetra_daily"
MINUTELY_DAG_ID = "minutely_work"


def when(t: dict[str, Any]) -> str:
    """A run's logical date: the day for the daily DAG, the minute for the minutely one."""
    d = str(t["logical_date"])
    return d[:10] if t["dag_id"] == DAG_ID else d[11:16]


def backfill_done(site: Site) -> bool:
    rows = site.query(
        "SELECT count(*), count(*) FILTER (WHERE state IN ('success', 'failed'))"
        " FROM dag_run WHERE dag_id = %s",
        (DAG_ID,),
    )
    total, finished = rows[0]
    return bool(total) and total == finished


def price_rows(site: Site) -> int:
    try:
        rows = site.query("SELECT count(*) FROM xetra_daily_price")
    except Exception:  # noqa: BLE001 - the table appears with the first load
        return 0
    return int(rows[0][0])


def dag_runs(site: Site, limit: int = 6) -> list[dict[str, Any]]:
    """The latest runs with the nodes whose schedulers queued their tasks, in order."""
    rows = site.query(
        "SELECT r.run_id, r.logical_date, r.state, r.end_date,"
        " (SELECT array_agg(h ORDER BY t) FROM (SELECT j.hostname AS h, min(x.queued_dttm) AS t"
        "   FROM (SELECT queued_by_job_id, queued_dttm FROM task_instance"
        "          WHERE dag_id = r.dag_id AND run_id = r.run_id"
        "         UNION ALL SELECT queued_by_job_id, queued_dttm FROM task_instance_history"
        "          WHERE dag_id = r.dag_id AND run_id = r.run_id) x"
        "   JOIN job j ON j.id = x.queued_by_job_id GROUP BY j.hostname) q)"
        " FROM dag_run r WHERE r.dag_id = %s ORDER BY r.logical_date DESC LIMIT %s",
        (DAG_ID, limit),
    )
    return [
        {
            "run_id": r[0],
            "logical_date": r[1],
            "state": r[2],
            "end_date": r[3],
            "nodes": r[4] or [],
        }
        for r in rows
    ]


def running_tasks(site: Site) -> list[dict[str, Any]]:
    """Every running task of every DAG, with the host it runs on."""
    rows = site.query(
        "SELECT ti.task_id, r.logical_date, ti.hostname, ti.try_number, ti.dag_id"
        " FROM task_instance ti"
        " JOIN dag_run r ON r.dag_id = ti.dag_id AND r.run_id = ti.run_id"
        " WHERE ti.state = 'running' ORDER BY ti.start_date",
    )
    return [
        dict(
            zip(
                ("task_id", "logical_date", "hostname", "try_number", "dag_id"),
                r,
                strict=True,
            )
        )
        for r in rows
    ]


def tasks_across(site: Site, at: datetime) -> list[dict[str, Any]]:
    """Every try that was running at ``at`` (a failover), with how its task instance ended."""
    rows = site.query(
        "SELECT t.task_id, t.run_id, t.try_number, t.hostname, ti.state, ti.try_number"
        " FROM (SELECT dag_id, run_id, task_id, map_index, try_number, hostname, start_date, end_date"
        "         FROM task_instance_history UNION ALL"
        "       SELECT dag_id, run_id, task_id, map_index, try_number, hostname, start_date, end_date"
        "         FROM task_instance) t"
        " JOIN task_instance ti USING (dag_id, run_id, task_id, map_index)"
        " WHERE t.dag_id = %s AND t.start_date <= %s AND (t.end_date IS NULL OR t.end_date >= %s)"
        " ORDER BY t.start_date",
        (DAG_ID, at, at),
    )
    keys = (
        "task_id",
        "run_id",
        "try_number",
        "hostname",
        "final_state",
        "final_try_number",
    )
    return [dict(zip(keys, r, strict=True)) for r in rows]


def build_summary(
    site: Site,
    terms: list[dict[str, Any]],
    watcher: TryWatcher | None,
    *,
    celery: bool,
    names: tuple[str, ...],
    timings: dict[str, float],
    workdir: Path,
) -> dict[str, Any]:
    """The ``--summary`` JSON: failovers, run counts, task overlaps, scheduler jobs, timings."""
    failovers = failovers_from_terms(terms)
    first_failover = datetime.fromisoformat(str(failovers[0]["at"])) if failovers else None
    runs = site.query(
        "SELECT state, end_date FROM dag_run WHERE dag_id IN (%s, %s)", (DAG_ID, MINUTELY_DAG_ID)
    )
    counts = {"success": 0, "failed": 0, "running": 0, "success_after_failover": 0}
    for state, end in runs:
        if state in counts:
            counts[state] += 1
        if state == "success" and first_failover is not None and end is not None and end > first_failover:
            counts["success_after_failover"] += 1
    overlaps = watcher.stop() if watcher is not None else []
    jobs = site.query("SELECT hostname, job_type, state, start_date FROM job ORDER BY id")
    return {
        "airflow_version": version("apache-airflow"),
        "executor": "CeleryExecutor" if celery else "LocalExecutor",
        "nodes": list(names),
        "failovers": failovers,
        "dag_runs": counts,
        "price_rows": price_rows(site),
        "task_overlaps": len(overlaps),
        "task_overlap_details": overlaps,
        "tries_watched": watcher.tries_seen if watcher is not None else 0,
        "scheduler_jobs": [
            {"hostname": h, "state": st, "start_date": sd} for h, jt, st, sd in jobs if jt == "SchedulerJob"
        ],
        "tasks_across_failovers": [
            tasks_across(site, datetime.fromisoformat(str(f["at"]))) for f in failovers
        ],
        "timings_s": {k: round(v, 1) for k, v in timings.items()},
        "workdir": str(workdir),
    }


def failovers_from_terms(terms: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Each term (`airflow-failover history --json`, the schema's term_history()) won by a node
    other than the previous term's holder: ``{at, from, to, term}``. The first election is not a
    failover."""
    return [
        {"at": t["start"], "from": p["holder"], "to": t["holder"], "term": t["term"]}
        for p, t in zip(terms, terms[1:], strict=False)
        if t["holder"] != p["holder"]
    ]
