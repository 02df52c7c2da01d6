"""How the transform hands S3 to Spark itself (``spark_io=direct``): the s3a jars, the s3a
settings from the lake's Airflow connection, and when direct is the default.

Secrets never go on the command line (``ps`` and the task log show it): the keys travel in the
environment of spark-submit (``XETRA_S3A_ACCESS_KEY`` / ``XETRA_S3A_SECRET_KEY``) and the job puts
them into the Hadoop configuration of its session, which Spark ships to the executors.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from pipeline.xetra.config import REPO

MANIFEST = REPO / "scripts" / "lib" / "spark-s3a-jars.txt"
ACCESS_KEY_ENV = "XETRA_S3A_ACCESS_KEY"
SECRET_KEY_ENV = "XETRA_S3A_SECRET_KEY"
IO_MODES = ("auto", "stage", "direct")


def spark_io_mode(configured: str, lake_is_s3: bool, master: str) -> str:
    """``stage`` or ``direct``. ``auto`` (the default) is direct when the lake is S3 and the master
    is not local: a cluster's executors cannot read a temp dir on the Airflow worker."""
    mode = (configured or "auto").strip().lower()
    if mode not in IO_MODES:
        raise ValueError(f"setting spark_io must be one of {', '.join(IO_MODES)}, not {configured!r}")
    if mode == "auto":
        return "direct" if lake_is_s3 and not master.strip().startswith("local") else "stage"
    if mode == "direct" and not lake_is_s3:
        raise ValueError("setting spark_io=direct needs an S3 lake (lake_url s3://...)")
    return mode


def jars_dir() -> Path:
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(os.environ.get("AF_SPARK_JARS_DIR") or Path(cache) / "airflow-failover" / "spark-jars")


def s3a_jars(configured: str = "") -> list[str]:
    """The jars spark-submit needs for s3a://: the setting ``spark_jars`` when given (comma-separated;
    ``none`` when the cluster has them already), else the ones scripts/lib/spark-jars.sh fetched
    (it verified their sha256 before moving them into place)."""
    if configured.strip().lower() == "none":
        return []
    if configured.strip():
        return [j.strip() for j in configured.split(",") if j.strip()]
    folder = jars_dir()
    names = [
        line.split()[1].rsplit("/", 1)[1]
        for line in MANIFEST.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    ]
    missing = [n for n in names if not (folder / n).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{len(missing)} s3a jars missing in {folder} (e.g. {missing[0]}): run "
            "`source scripts/lib/spark-jars.sh && ensure_spark_s3a_jars`, or set xetra_spark_jars"
        )
    return [str(folder / n) for n in names]


def s3a_confs(opts: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """(``--conf`` arguments, environment for spark-submit) for s3a from ``open_storage`` options
    of the lake (``pipeline.xetra.config.s3_options``). Path-style access: a local S3 server
    (moto, MinIO) has no per-bucket host names."""
    confs = {"spark.hadoop.fs.s3a.path.style.access": "true"}
    env: dict[str, str] = {}
    endpoint = opts.get("endpoint_url")
    if endpoint:
        confs["spark.hadoop.fs.s3a.endpoint"] = endpoint
        if urlparse(endpoint).scheme == "http":
            confs["spark.hadoop.fs.s3a.connection.ssl.enabled"] = "false"
    if opts.get("region"):
        confs["spark.hadoop.fs.s3a.endpoint.region"] = opts["region"]
    if opts.get("access_key") and opts.get("secret_key"):
        # Only these keys: no probing of the EC2 metadata service, which is slow to time out.
        confs["spark.hadoop.fs.s3a.aws.credentials.provider"] = (
            "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider"
        )
        env[ACCESS_KEY_ENV] = opts["access_key"]
        env[SECRET_KEY_ENV] = opts["secret_key"]
    args: list[str] = []
    for k, v in confs.items():
        args += ["--conf", f"{k}={v}"]
    return args, env
