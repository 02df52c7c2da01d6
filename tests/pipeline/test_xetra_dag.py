"""The DAG file imports cleanly, and one whole DAG run for one day works through Airflow."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import psycopg2
import pytest

from localcluster.pgserver import PgServer
from localcluster.spark_cluster import SparkCluster
from pipeline.xetra import reference
from pipeline.xetra.generate import SampleSummary
from pipeline.xetra.load import fetch_day
from pipeline.xetra.storage import PUBLIC_PDS_BUCKET, LocalStorage, S3Storage
from tests.support.helpers import REPO

DAG_FILE = REPO / "dags" / "xetra_daily.py"
BACKFILL_FILE = REPO / "dags" / "xetra_backfill.py"


def _dagbag(airflow_home: Path, dag_file: Path = DAG_FILE) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(dag_file))


def test_backfill_dag_imports_and_is_manual(airflow_home: Path) -> None:
    bag = _dagbag(airflow_home, BACKFILL_FILE)
    assert bag.import_errors == {}
    dag = bag.get_dag("xetra_backfill")
    assert dag is not None and type(dag.timetable).__name__ == "NullTimetable"  # manual trigger only
    assert dag.get_task("ingest").downstream_task_ids == {"transform"}
    assert dag.get_task("transform").downstream_task_ids == {"load"}
    assert set(dag.params.keys()) == {"start", "end"}


def test_dag_file_imports_without_errors(airflow_home: Path) -> None:
    bag = _dagbag(airflow_home)
    assert bag.import_errors == {}
    dag = bag.get_dag("xetra_daily")
    assert dag is not None
    assert sorted(t.task_id for t in dag.tasks) == ["ingest", "load", "transform"]
    assert dag.get_task("ingest").downstream_task_ids == {"transform"}
    assert dag.get_task("transform").downstream_task_ids == {"load"}
    for t in dag.tasks:
        assert t.retries == 2 and t.retry_delay.total_seconds() > 0
    assert dag.catchup is False


@pytest.fixture
def pipeline_env(
    airflow_home: Path, pg: PgServer, s3_endpoint: str, sample: SampleSummary
) -> Iterator[dict[str, str]]:
    """Source PDS files and the pipeline's lake in two S3 buckets; result DB ``xetra``; settings
    and connections given the way a deployment would: AIRFLOW_CONN_* and AIRFLOW_VAR_*."""
    suffix = uuid.uuid4().hex[:8]
    # the source: the public PDS bucket's name and layout, public-read, read with unsigned requests
    source = S3Storage(PUBLIC_PDS_BUCKET, endpoint_url=s3_endpoint, create_bucket=True)
    arn = f"arn:aws:s3:::{PUBLIC_PDS_BUCKET}"
    allow = {"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:ListBucket"]}
    policy = {"Version": "2012-10-17", "Statement": [{**allow, "Resource": [arn, f"{arn}/*"]}]}
    source.client.put_bucket_policy(Bucket=PUBLIC_PDS_BUCKET, Policy=json.dumps(policy))
    lake = S3Storage(f"lake-{suffix}", endpoint_url=s3_endpoint, create_bucket=True)
    local = LocalStorage(sample.root)
    for key in local.list():
        source.upload_file(local.local_path(key), key)
    if "xetra" not in pg.psql("SELECT datname FROM pg_database").split():
        pg.create_database("xetra")
    env = {
        "AIRFLOW_CONN_XETRA_POSTGRES": pg.url("xetra"),
        "AIRFLOW_CONN_XETRA_S3": json.dumps(
            {
                "conn_type": "aws",
                "login": "testing",
                "password": "testing",
                "extra": {"endpoint_url": s3_endpoint, "region_name": "us-east-1"},
            }
        ),
        # the source's own connection: only the endpoint (no keys: the bucket is read unsigned)
        "AIRFLOW_CONN_XETRA_SOURCE_S3": json.dumps(
            {"conn_type": "aws", "extra": {"endpoint_url": s3_endpoint, "region_name": "eu-central-1"}}
        ),
        "AIRFLOW_VAR_XETRA_SOURCE_URL": f"s3://{PUBLIC_PDS_BUCKET}",
        "AIRFLOW_VAR_XETRA_LAKE_URL": f"s3://{lake.bucket}",
        "XETRA_SPARK_MASTER": "local[2]",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        yield {**env, "lake_bucket": lake.bucket, "endpoint": s3_endpoint}
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.mark.slow
def test_whole_dag_run_for_one_day_on_a_standalone_cluster_with_s3a(
    airflow_home: Path,
    pg: PgServer,
    sample: SampleSummary,
    pipeline_env: dict[str, str],
    s3a_jars: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """One whole xetra_daily run with spark_master at a standalone master and two 1-core workers
    (spark_io left at auto): the executors read the raw files from s3a:// and the job writes the
    Parquet there; the rows loaded equal the oracle's; after stop() no process of the cluster (the
    executors included) is left. (The backfill DAG's test below covers local[2] with staging.)"""
    day = date(2019, 1, 4)
    with SparkCluster(tmp_path / "spark", workers=2, cores=1) as cluster:
        cluster.start()
        monkeypatch.setenv("XETRA_SPARK_MASTER", cluster.master_url)
        monkeypatch.delenv("XETRA_SPARK_IO", raising=False)
        monkeypatch.setenv("XETRA_SPARK_CONF", "spark.executor.memory=512m,spark.ui.enabled=false")
        dag = _dagbag(airflow_home).get_dag("xetra_daily")
        for t in dag.tasks:
            t.retries = 0  # fail fast here; the retry policy itself is checked above
        run = dag.test(logical_date=datetime(day.year, day.month, day.day, tzinfo=UTC))
        assert str(run.state) in ("success", "DagRunState.SUCCESS"), run.state
        apps = cluster.state()["completedapps"]
        assert isinstance(apps, list) and [a["name"] for a in apps] == [f"xetra-daily-{day}"]
        # The executors (not the driver) opened the raw files through s3a.
        logs = [p.read_text(errors="replace") for p in tmp_path.glob("spark/worker*/work/app-*/*/stderr")]
        raw = f"s3a://{pipeline_env['lake_bucket']}/raw/{day}/"
        assert any(raw in log for log in logs), f"no executor log names {raw}"
    assert cluster.pids() == []

    expected, _ = reference.compute_day(sample.root / day.isoformat(), day)
    got = _db_rows(pg, day)
    assert len(got) == len(expected) > 0
    for r, e in zip(got, expected, strict=True):
        assert r[:3] == (e.trade_date, e.isin, e.mnemonic)
        assert r[5:] == (e.total_volume, e.num_trades, e.num_bars)
        assert r[3] == pytest.approx(e.mean_end_price, rel=1e-9)
        assert r[4] == pytest.approx(e.vwap, rel=1e-9)

    lake = S3Storage(pipeline_env["lake_bucket"], endpoint_url=pipeline_env["endpoint"])
    assert len(lake.list(f"raw/{day.isoformat()}/")) == len(list((sample.root / day.isoformat()).iterdir()))
    assert any(k.endswith(".parquet") for k in lake.list(f"curated/xetra_daily/{day.isoformat()}/"))


def _db_rows(pg: PgServer, day: date) -> list[tuple[Any, ...]]:
    conn = psycopg2.connect(pg.conninfo("xetra"))
    try:
        return fetch_day(conn, day)
    finally:
        conn.close()


@pytest.mark.slow
def test_backfill_dag_run_equals_the_daily_figures(
    airflow_home: Path, pg: PgServer, sample: SampleSummary, pipeline_env: dict[str, str]
) -> None:
    """The whole sample range through xetra_backfill (one spark-submit): PostgreSQL then holds,
    for every day, the figures the daily computation gives (the oracle; the daily DAG run above
    checks the same oracle)."""
    days = [d.day for d in sample.days]
    conn = psycopg2.connect(pg.conninfo("xetra"))
    with conn, conn.cursor() as cur:
        cur.execute("DROP TABLE IF EXISTS xetra_daily_price")
    conn.close()
    bag = _dagbag(airflow_home, BACKFILL_FILE)
    dag = bag.get_dag("xetra_backfill")
    for t in dag.tasks:
        t.retries = 0
    run = dag.test(run_conf={"start": days[0].isoformat(), "end": days[-1].isoformat()})
    assert str(run.state) in ("success", "DagRunState.SUCCESS"), run.state
    lake = S3Storage(pipeline_env["lake_bucket"], endpoint_url=pipeline_env["endpoint"])
    for day in days:
        expected, _ = reference.compute_day(sample.root / day.isoformat(), day)
        got = _db_rows(pg, day)
        assert len(got) == len(expected)
        assert (len(got) > 0) == (day.weekday() < 5)
        for r, e in zip(got, expected, strict=True):
            assert r[:3] == (e.trade_date, e.isin, e.mnemonic)
            assert r[5:] == (e.total_volume, e.num_trades, e.num_bars)
            assert r[3] == pytest.approx(e.mean_end_price, rel=1e-9)
            assert r[4] == pytest.approx(e.vwap, rel=1e-9)
        assert any(k.endswith(".parquet") for k in lake.list(f"curated/xetra_daily/{day.isoformat()}/"))
    assert any(r[2] == "SAP" for r in _db_rows(pg, days[0]))  # the dashboard's default ticker


@pytest.fixture
def s3a_jars() -> list[str]:
    """The s3a jars, fetched (checksum-verified, cached) the way scripts/test.sh does."""
    from pipeline.xetra.spark_submit import s3a_jars as find

    try:
        return find()
    except FileNotFoundError:
        subprocess.run(
            ["bash", "-c", "source scripts/lib/spark-jars.sh && ensure_spark_s3a_jars"], cwd=REPO, check=True
        )
        return find()
