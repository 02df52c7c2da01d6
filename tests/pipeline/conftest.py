"""Fixtures of the Xetra pipeline tests: generated sample data, one Spark session, a local S3
server (moto, 127.0.0.1, free port) and an Airflow home on the shared throwaway PostgreSQL."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from localcluster.pgserver import PgServer
from localcluster.ports import free_tcp_port
from pipeline.xetra.generate import SampleSummary, generate
from tests.pipeline.xetra_sample import (
    SAMPLE_DAYS,
    SAMPLE_MALFORMED,
    SAMPLE_SEED,
    SAMPLE_START,
    SAMPLE_TICKERS,
)
from tests.support.helpers import REPO


def load_spark_job() -> ModuleType:
    """spark/xetra_daily_job.py as a module (it is a standalone spark-submit file, not a package)."""
    spec = importlib.util.spec_from_file_location("xetra_spark_job", REPO / "spark" / "xetra_daily_job.py")
    assert spec and spec.loader
    mod = importlib.util.module_from_spec(spec)
    sys.modules["xetra_spark_job"] = mod
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="session")
def sample(tmp_path_factory: pytest.TempPathFactory) -> SampleSummary:
    root = tmp_path_factory.mktemp("xetra-source")
    return generate(root, SAMPLE_START, SAMPLE_DAYS, SAMPLE_TICKERS, SAMPLE_SEED, SAMPLE_MALFORMED)


@pytest.fixture(scope="session")
def spark_job() -> ModuleType:
    return load_spark_job()


@pytest.fixture(scope="session")
def spark() -> Iterator[Any]:
    """The one local Spark session of the test session."""
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[2]")
        .appName("xetra-tests")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")  # local mode: stay on loopback
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    session.stop()


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 with fake credentials in the environment."""
    from moto.server import ThreadedMotoServer

    port = free_tcp_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    saved = {
        k: os.environ.get(k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")
    }
    os.environ.update(
        AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1"
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@pytest.fixture(scope="session")
def airflow_home(pg: PgServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """AIRFLOW_HOME in a temp dir, metadata DB ``airflow`` on the throwaway server, migrated once.

    Airflow reads its configuration when first imported, so nothing imports it before this."""
    loaded = sys.modules.get("airflow.configuration")
    home = tmp_path_factory.mktemp("airflow-home")
    if loaded is not None:
        pytest.fail("airflow was imported before the airflow_home fixture configured it")
    pg.create_database("airflow")
    os.environ.update(
        AIRFLOW_HOME=str(home),
        AIRFLOW__DATABASE__SQL_ALCHEMY_CONN=pg.url("airflow", driver="postgresql+psycopg2"),
        AIRFLOW__CORE__EXECUTOR="LocalExecutor",
        AIRFLOW__CORE__LOAD_EXAMPLES="False",
        AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
        AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION="True",
        AIRFLOW__LOGGING__LOGGING_LEVEL="WARNING",
    )
    airflow = Path(sys.executable).parent / "airflow"
    res = subprocess.run([str(airflow), "db", "migrate"], capture_output=True, text=True, check=False)
    if res.returncode != 0:
        pytest.fail(f"airflow db migrate failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    yield home
    if "airflow.settings" in sys.modules:  # close Airflow's DB pool before the server goes away
        from airflow import settings

        settings.dispose_orm()
