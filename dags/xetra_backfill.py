"""Xetra backfill: every day of a date range through the pipeline with ONE Spark session.

Trigger it by hand with ``{"start": "2019-01-01", "end": "2019-01-31"}`` (UI form, or
``airflow dags trigger xetra_backfill -c '{"start": ..., "end": ...}'``). Steps, as in
``xetra_daily`` but for the range: ingest every day that has source files into
``<lake>/raw/``, run ``spark/xetra_daily_job.py --start --end`` once (one pass over all files),
upload each accepted day's Parquet to ``<lake>/curated/xetra_daily/YYYY-MM-DD/`` and load it into
``xetra_daily_price``. The results are the same as running ``xetra_daily`` for each day.

Days without source files (weekends, holidays) are skipped. A refused day (no valid row on a
trading day, or too many malformed lines) is neither written nor loaded: the other days are, and
the run then fails naming the refused days with their counts.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from airflow.sdk import Param, dag, get_current_context, task

MAX_DAYS = 366 * 3  # a guard against a typo in a year turning into a decade of work


def _range() -> tuple[date, date]:
    params = get_current_context()["params"]
    try:
        start, end = date.fromisoformat(str(params["start"])), date.fromisoformat(str(params["end"]))
    except (KeyError, ValueError) as e:
        raise ValueError(f"params start and end must be dates YYYY-MM-DD: {e}") from None
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    if (end - start).days + 1 > MAX_DAYS:
        raise ValueError(f"{start}..{end} is more than {MAX_DAYS} days; split the backfill")
    return start, end


@dag(
    dag_id="xetra_backfill",
    description="Xetra PDS files for a date range -> one Spark session -> PostgreSQL",
    schedule=None,  # manual trigger only
    start_date=datetime(2019, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=1,
    params={
        "start": Param("2019-01-01", type="string", format="date", description="first day (YYYY-MM-DD)"),
        "end": Param("2019-01-31", type="string", format="date", description="last day, inclusive"),
    },
    default_args={
        "retries": 1,
        "retry_delay": timedelta(minutes=2),
        "execution_timeout": timedelta(hours=4),
    },
    tags=["xetra", "demo"],
)
def xetra_backfill() -> None:
    @task
    def ingest() -> dict[str, Any]:
        """Mirror every day of the range that has source files into ``<lake>/raw/``."""
        from pipeline.xetra.tasks import days_between, ingest_day, storages

        start, end = _range()
        source, lake = storages()
        done: dict[str, int] = {}
        for day in days_between(start, end):
            n = ingest_day(source, lake, day)
            if n:
                done[day.isoformat()] = n
            print(f"{day}: {n} files" + ("" if n else " (none in the source: skipped)"), flush=True)
        if not done:
            raise FileNotFoundError(f"no source files for {start}..{end} under {source.url}")
        return {"days": sorted(done), "files": sum(done.values())}

    @task
    def transform(ingested: dict[str, Any]) -> dict[str, Any]:
        """One spark-submit for the whole range; accepted days' Parquet to the lake."""
        from pipeline.xetra.tasks import run_spark, storages

        days = [date.fromisoformat(d) for d in ingested["days"]]
        _, lake = storages()
        run = run_spark(lake, days[0], days[-1])
        for d in run.days:
            refused = f", REFUSED: {d['refused']}" if d["refused"] else ""
            print(f"{d['trade_date']}: {d['rows_valid']} valid, {d['rows_malformed']} malformed "
                  f"{d['malformed_by_kind']}{refused}")  # fmt: skip
        return {
            "written": [d.isoformat() for d in run.written],
            "refused": [{"trade_date": d["trade_date"], "refused": d["refused"]} for d in run.refused],
        }

    @task
    def load(transformed: dict[str, Any]) -> int:
        """Load every written day; then fail if any day was refused."""
        from airflow.sdk.exceptions import AirflowFailException

        from pipeline.xetra.tasks import load_day, storages

        _, lake = storages()
        total = 0
        for d in transformed["written"]:
            n = load_day(lake, date.fromisoformat(d))
            print(f"{d}: loaded {n} rows", flush=True)
            total += n
        if transformed["refused"]:
            lines = "; ".join(f"{r['trade_date']}: {r['refused']}" for r in transformed["refused"])
            raise AirflowFailException(
                f"{len(transformed['refused'])} day(s) refused, nothing of them written or deleted: {lines}"
            )
        return total

    load(transform(ingest()))  # type: ignore[arg-type]  # (XComArgs, resolved at run time)


xetra_backfill()
