"""Daily Xetra pipeline: ingest the day's PDS files into the pipeline's bucket, compute the daily
figures with the PySpark job, load them into PostgreSQL table ``xetra_daily_price``.

The trading day is the run's logical date (the start of its daily data interval), never the wall
clock. Every task can be rerun: ingest mirrors the day's files, the Spark job overwrites the day's
Parquet, the load replaces the day's rows in one transaction. Settings and connections: see
``pipeline/xetra/config.py`` and docs/pipeline.md.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from airflow.sdk import CronDataIntervalTimetable, dag, get_current_context, task

# The pipeline package lives at the repository root, next to this dags/ folder.
_REPO = Path(os.environ.get("XETRA_REPO_ROOT", Path(__file__).resolve().parent.parent))
if str(_REPO) not in sys.path:
    sys.path.insert(0, str(_REPO))

RAW_PREFIX = "raw"
CURATED_PREFIX = "curated/xetra_daily"


def _trade_day() -> date:
    ctx = get_current_context()
    logical = ctx.get("logical_date")
    if logical is None:
        raise ValueError("this DAG needs a logical date (trigger it with one): it names the trading day")
    return date.fromisoformat(logical.strftime("%Y-%m-%d"))


def _storages() -> tuple[Any, Any]:
    from pipeline.xetra.config import s3_options, setting
    from pipeline.xetra.storage import open_storage

    def one(url: str) -> Any:
        opts = s3_options() if url.startswith(("s3://", "s3a://")) else {}
        return open_storage(url, **opts)

    return one(setting("source_url")), one(setting("lake_url"))


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

        from pipeline.xetra.storage import copy_prefix

        day = _trade_day()
        source, lake = _storages()
        if not source.list(f"{day.isoformat()}/"):
            if day.weekday() >= 5:
                raise AirflowSkipException(f"{day} is a weekend day without source files")
            raise FileNotFoundError(f"no source files for {day} under {source.url} (yet)")
        keys = copy_prefix(source, day.isoformat(), lake, f"{RAW_PREFIX}/{day.isoformat()}")
        print(f"ingested {len(keys)} files for {day} from {source.url} into {lake.url}")
        return {"trade_date": day.isoformat(), "files": len(keys)}

    @task
    def transform() -> dict[str, Any]:
        """Run spark/xetra_daily_job.py with spark-submit for the day; Parquet to
        ``<lake>/curated/xetra_daily/YYYY-MM-DD/``."""
        from pipeline.xetra.config import setting, spark_submit_path
        from pipeline.xetra.storage import S3Storage

        day = _trade_day()
        _, lake = _storages()
        raw_key = f"{RAW_PREFIX}/{day.isoformat()}"
        out_key = f"{CURATED_PREFIX}/{day.isoformat()}"
        with tempfile.TemporaryDirectory(prefix=f"xetra-{day.isoformat()}-") as tmp:
            work = Path(tmp)
            direct = setting("spark_io") == "direct" and isinstance(lake, S3Storage)
            if direct:
                base = lake.url.replace("s3://", "s3a://", 1)
                in_path, out_path = f"{base}/{raw_key}", f"{base}/{out_key}"
            else:
                if not lake.download_prefix(raw_key, work / "in"):
                    raise FileNotFoundError(f"nothing under {lake.url}/{raw_key}: run ingest first")
                in_path, out_path = str(work / "in"), str(work / "out")
            stats_file = work / "stats.json"
            cmd = [spark_submit_path(), "--master", setting("spark_master")]
            for kv in filter(None, setting("spark_conf").split(",")):
                cmd += ["--conf", kv.strip()]
            cmd += [
                setting("spark_job"),
                "--date", day.isoformat(),
                "--input", in_path,
                "--output", out_path,
                "--stats-file", str(stats_file),
                "--shuffle-partitions", "4",
            ]  # fmt: skip
            env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
            if setting("spark_master").startswith("local"):
                env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # local mode: stay on loopback
            print("running: " + " ".join(cmd), flush=True)
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
            print(proc.stdout[-20000:])
            if proc.returncode != 0:
                print(proc.stderr[-20000:], file=sys.stderr)
                raise RuntimeError(f"spark-submit exited {proc.returncode}")
            stats: dict[str, Any] = json.loads(stats_file.read_text(encoding="utf-8"))
            if not direct:
                lake.upload_dir(work / "out", out_key, replace=True)
        print(f"spark stats: {stats}")
        return stats

    @task
    def load() -> int:
        """Replace the day's rows of xetra_daily_price by the day's Parquet (one transaction)."""
        import psycopg2

        from pipeline.xetra.config import postgres_connect_kwargs
        from pipeline.xetra.load import load_day, read_parquet_rows

        day = _trade_day()
        _, lake = _storages()
        with tempfile.TemporaryDirectory(prefix=f"xetra-load-{day.isoformat()}-") as tmp:
            files = [
                p
                for p in lake.download_prefix(f"{CURATED_PREFIX}/{day.isoformat()}", Path(tmp))
                if p.suffix == ".parquet"
            ]
            if not files:
                raise FileNotFoundError(f"no Parquet for {day} in {lake.url}: run transform first")
            rows = [r for f in sorted(files) for r in read_parquet_rows(f)]
        conn = psycopg2.connect(**postgres_connect_kwargs())
        try:
            n = load_day(conn, day, rows)
        finally:
            conn.close()
        print(f"loaded {n} rows for {day} into xetra_daily_price")
        return n

    ingest() >> transform() >> load()


xetra_daily()
