"""Settings of the Xetra pipeline, resolved when a task runs (never at DAG parse time).

Each setting ``name`` comes from, in order: the Airflow Variable ``xetra_<name>`` (which Airflow
also reads from the environment as ``AIRFLOW_VAR_XETRA_<NAME>``), the environment variable
``XETRA_<NAME>``, then the default below. Credentials never live here: S3 access comes from the
Airflow connection ``xetra_s3`` (login = access key, password = secret key, extra
``{"endpoint_url": ..., "region_name": ...}``) or boto3's usual environment; PostgreSQL from the
Airflow connection named by ``postgres_conn_id`` (default ``xetra_postgres``).

The source may be Deutsche Boerse's public bucket: ``source_url=s3://deutsche-boerse-xetra-pds``
(layout ``YYYY-MM-DD/YYYY-MM-DD_BINS_XETRhh.csv``). The source is read with the connection
``source_s3_conn_id`` (default ``xetra_source_s3``) when it exists, else with ``s3_conn_id``, and
anonymously (unsigned requests) when ``source_unsigned`` is ``true``, or ``auto`` (the default),
the bucket is the public one and the connection has no keys.
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
    "spark_io",  # auto, stage (through a local temp dir) or direct (s3a:// URLs to the job)
    "spark_jars",  # jars for direct: comma-separated, none, or empty (those spark-jars.sh fetched)
    "spark_conf",  # extra "key=value,key=value" passed as --conf
    "postgres_conn_id",
    "s3_conn_id",
    "source_s3_conn_id",  # S3 options of the source; the lake's (s3_conn_id) when it does not exist
    "source_unsigned",  # auto (unsigned for the public PDS bucket), true or false
    "max_malformed_share",  # a day with a larger share of malformed data lines is refused
)


def default(name: str) -> str:
    """The built-in default of a setting (evaluated now, so AIRFLOW_HOME is read at run time)."""
    defaults = {
        "source_url": str(_airflow_home() / "xetra" / "source"),
        "lake_url": str(_airflow_home() / "xetra" / "lake"),
        "spark_master": "local[2]",
        "spark_submit": "",
        "spark_job": str(REPO / "spark" / "xetra_daily_job.py"),
        "spark_io": "auto",  # direct when the lake is S3 and the master not local
        "spark_jars": "",
        "spark_conf": "",
        "postgres_conn_id": "xetra_postgres",
        "s3_conn_id": "xetra_s3",
        "source_s3_conn_id": "xetra_source_s3",
        "source_unsigned": "auto",
        "max_malformed_share": "0.05",
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


def _connection(conn_id: str) -> Any:
    """The Airflow connection ``conn_id``, or None when it does not exist (or outside Airflow)."""
    try:
        from airflow.sdk import BaseHook

        return BaseHook.get_connection(conn_id)
    except Exception:
        return None


def s3_options(conn_id: str | None = None) -> dict[str, Any]:
    """boto3 options from the Airflow connection ``conn_id`` (if it exists), else empty (boto3
    then uses XETRA_S3_ENDPOINT_URL / AWS_* from the environment)."""
    conn = _connection(conn_id or setting("s3_conn_id"))
    if conn is None:
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


def source_s3_options(source_url: str) -> dict[str, Any]:
    """``open_storage`` options for the source URL (see the module docstring)."""
    from urllib.parse import urlparse

    from pipeline.xetra.storage import PUBLIC_PDS_BUCKET

    own = setting("source_s3_conn_id")
    opts = s3_options(own) if _connection(own) is not None else s3_options()
    mode = setting("source_unsigned").strip().lower()
    if mode not in ("auto", "true", "false"):
        raise ValueError(f"setting source_unsigned must be auto, true or false, not {mode!r}")
    bucket = urlparse(source_url).netloc
    # auto: the public bucket read anonymously, unless the connection brings keys (a mirror of the
    # bucket under that name, e.g. on a local S3 server, that is read with credentials).
    has_keys = "access_key" in opts
    if mode == "true" or (mode == "auto" and bucket == PUBLIC_PDS_BUCKET and not has_keys):
        opts.pop("access_key", None)
        opts.pop("secret_key", None)
        opts["unsigned"] = True
    return opts


def max_malformed_share() -> float:
    raw = setting("max_malformed_share")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"setting max_malformed_share must be a number from 0 to 1, not {raw!r}") from None
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"setting max_malformed_share must be from 0 to 1, not {value}")
    return value


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
