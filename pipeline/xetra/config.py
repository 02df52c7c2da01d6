"""Settings of the Xetra pipeline, resolved when a task runs (never at DAG parse time).

Each setting ``name`` comes from, in order: the Airflow Variable ``xetra_<name>`` (which Airflow
also reads from the environment as ``AIRFLOW_VAR_XETRA_<NAME>``), the environment variable
``XETRA_<NAME>``, then the default below. Credentials never live here: S3 access comes from the
Airflow connection ``xetra_s3`` (login = access key, password = secret key, extra
``{"endpoint_url": ..., "region_name": ...}``) or boto3's usual environment; PostgreSQL from the
Airflow connection named by ``postgres_conn_id`` (default ``xetra_postgres``).
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]


def _airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME", str(Path.home() / "airflow")))


NAMES: tuple[str, ...] = (
    "source_url",  # where the PDS files arrive: folder or s3://bucket/prefix, YYYY-MM-DD/<files>
    "lake_url",  # the pipeline's bucket: raw/YYYY-MM-DD/, curated/xetra_daily/YYYY-MM-DD/
    "spark_master",
    "spark_submit",  # default: spark-submit beside this Python, else on PATH
    "spark_job",
    "spark_io",  # stage: through a local temp dir (local Spark); direct: s3a:// URLs to the job
    "spark_conf",  # extra "key=value,key=value" passed as --conf
    "postgres_conn_id",
    "s3_conn_id",
)


def default(name: str) -> str:
    """The built-in default of a setting (evaluated now, so AIRFLOW_HOME is read at run time)."""
    defaults = {
        "source_url": str(_airflow_home() / "xetra" / "source"),
        "lake_url": str(_airflow_home() / "xetra" / "lake"),
        "spark_master": "local[2]",
        "spark_submit": "",
        "spark_job": str(REPO / "spark" / "xetra_daily_job.py"),
        "spark_io": "stage",
        "spark_conf": "",
        "postgres_conn_id": "xetra_postgres",
        "s3_conn_id": "xetra_s3",
    }
    return defaults[name]


def setting(name: str) -> str:
    """The value of one setting (see the module docstring)."""
    if name not in NAMES:
        raise KeyError(name)
    try:
        from airflow.sdk import Variable

        value = Variable.get(f"xetra_{name}", default=None)
        if value not in (None, ""):
            return str(value)
    except Exception:  # outside a task, or Airflow not installed: fall through to the environment
        pass
    env = os.environ.get(f"XETRA_{name.upper()}")
    if env:
        return env
    return default(name)


def s3_options(conn_id: str | None = None) -> dict[str, Any]:
    """boto3 options from the Airflow connection ``conn_id`` (if it exists), else empty (boto3
    then uses XETRA_S3_ENDPOINT_URL / AWS_* from the environment)."""
    conn_id = conn_id or setting("s3_conn_id")
    try:
        from airflow.sdk import BaseHook

        conn = BaseHook.get_connection(conn_id)
    except Exception:
        return {}
    extra = conn.extra_dejson or {}
    opts: dict[str, Any] = {}
    if conn.login and conn.password:
        opts["access_key"] = conn.login
        opts["secret_key"] = conn.password
    if extra.get("endpoint_url"):
        opts["endpoint_url"] = extra["endpoint_url"]
    if extra.get("region_name"):
        opts["region"] = extra["region_name"]
    return opts


def spark_submit_path() -> str:
    configured = setting("spark_submit")
    if configured:
        return configured
    beside = Path(sys.executable).parent / "spark-submit"
    if beside.exists():
        return str(beside)
    found = shutil.which("spark-submit")
    if not found:
        raise FileNotFoundError("spark-submit not found (install pyspark or set XETRA_SPARK_SUBMIT)")
    return found


def postgres_connect_kwargs(conn_id: str | None = None) -> dict[str, Any]:
    """psycopg2.connect() keyword arguments from the Airflow connection ``conn_id``.

    (The postgres provider's hook hands out psycopg 3 connections when psycopg 3 is installed;
    the load uses psycopg2, so only the connection's fields are taken from Airflow.)"""
    from airflow.sdk import BaseHook

    conn = BaseHook.get_connection(conn_id or setting("postgres_conn_id"))
    kwargs: dict[str, Any] = {"host": conn.host or "localhost", "port": conn.port or 5432}
    if conn.schema:
        kwargs["dbname"] = conn.schema
    if conn.login:
        kwargs["user"] = conn.login
    if conn.password:
        kwargs["password"] = conn.password
    for key in ("sslmode", "sslrootcert", "sslcert", "sslkey", "connect_timeout", "options"):
        value = (conn.extra_dejson or {}).get(key)
        if value not in (None, ""):
            kwargs[key] = value
    return kwargs
