"""Daily Xetra pipeline: ingest the day's PDS files into the pipeline's bucket, compute the daily
figures with the PySpark job, load them into PostgreSQL table ``xetra_daily_price``.

The trading day is the run's logical date (the start of its daily data interval), never the wall
clock. Every task can be rerun: ingest mirrors the day's files, the Spark job overwrites the day's
Parquet, the load replaces the day's rows in one transaction. A day whose files look broken (no
valid row on a trading day, or more malformed lines than ``max_malformed_share``) fails the
transform and leaves the day's Parquet and rows as they were. For a range of days in one Spark
session use the ``xetra_backfill`` DAG. Settings and connections: see
``pipeline/xetra/config.py`` and docs/pipeline.md.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, dag, get_current_context, task


def _trade_day() -> date:
    ctx = get_current_context()
    logical = ctx.get("logical_date")
    if logical is None:
        raise ValueError("this DAG needs a logical date (trigger it with one): it names the trading day")
    return date.fromisoformat(logical.strftime("%Y-%m-%d"))


@dag(
    dag_id="xetra_daily",
    description="Xetra PDS files -> pipeline bucket -> PySpark daily figures -> PostgreSQL",
    schedule=CronDataIntervalTimetable("0 0 * * *", timezone="UTC"),
    start_date=datetime(2019, 1, 1, tzinfo=UTC),
    catchup=False,
    max_active_runs=2,
    default_args={
        "retries": 2,
        "retry_delay": timedelta(minutes=2),
        "retry_exponential_backoff": 2.0,
        "execution_timeout": timedelta(hours=1),
    },
    tags=["xetra", "demo"],
)
def xetra_daily() -> None:
    @task
    def ingest() -> dict[str, Any]:
        """Mirror source ``YYYY-MM-DD/*`` into ``<lake>/raw/YYYY-MM-DD/``."""
        from airflow.sdk.exceptions import AirflowSkipException

        from pipeline.xetra.tasks import ingest_day, storages

        day = _trade_day()
        source, lake = storages()
        n = ingest_day(source, lake, day)
        if n == 0:
            if day.weekday() >= 5:
                raise AirflowSkipException(f"{day} is a weekend day without source files")
            raise FileNotFoundError(f"no source files for {day} under {source.url} (yet)")
        print(f"ingested {n} files for {day} from {source.url} into {lake.url}")
        return {"trade_date": day.isoformat(), "files": n}

    @task
    def transform() -> dict[str, Any]:
        """Run spark/xetra_daily_job.py with spark-submit for the day; Parquet to
        ``<lake>/curated/xetra_daily/YYYY-MM-DD/``. A refused day (no valid row on a trading day,
        or too many malformed lines) fails without retries and changes nothing."""
        from airflow.sdk.exceptions import AirflowFailException

        from pipeline.xetra.tasks import refusal_message, run_spark, storages

        day = _trade_day()
        _, lake = storages()
        run = run_spark(lake, day)
        print(f"spark stats: {run.days}")
        if run.refused:
            raise AirflowFailException("refused: " + refusal_message(run))
        return run.days[0]

    @task
    def load() -> int:
        """Replace the day's rows of xetra_daily_price by the day's Parquet (one transaction)."""
        from pipeline.xetra.tasks import load_day, storages

        day = _trade_day()
        _, lake = storages()
        n = load_day(lake, day)
        print(f"loaded {n} rows for {day} into xetra_daily_price")
        return n

    ingest() >> transform() >> load()


xetra_daily()
