"""The steps of the Xetra DAGs (``dags/xetra_daily.py``, ``dags/xetra_backfill.py``) and of the
backfill CLI (``python -m pipeline.xetra.backfill``), free of Airflow: ingest a day's source files
into the lake, run the Spark job for one day or a range, load days into PostgreSQL.

Lake layout: ``raw/YYYY-MM-DD/`` (a mirror of the source's day folder) and
``curated/xetra_daily/YYYY-MM-DD/`` (the day's Parquet).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pipeline.xetra.storage import S3Storage, Storage, copy_prefix, open_storage

RAW_PREFIX = "raw"
CURATED_PREFIX = "curated/xetra_daily"
EXIT_REFUSED = 3  # the Spark job's exit code when it refused a day (see spark/xetra_daily_job.py)


def storages() -> tuple[Storage, Storage]:
    """(source, lake) from the settings (``pipeline.xetra.config``)."""
    from pipeline.xetra.config import s3_options, setting, source_s3_options

    source_url, lake_url = setting("source_url"), setting("lake_url")
    is_s3 = ("s3://", "s3a://")
    source = open_storage(
        source_url, **(source_s3_options(source_url) if source_url.startswith(is_s3) else {})
    )
    lake = open_storage(lake_url, **(s3_options() if lake_url.startswith(is_s3) else {}))
    return source, lake


def days_between(start: date, end: date) -> list[date]:
    if end < start:
        raise ValueError(f"end {end} is before start {start}")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def ingest_day(source: Storage, lake: Storage, day: date) -> int:
    """Mirror ``<source>/YYYY-MM-DD/*`` into ``<lake>/raw/YYYY-MM-DD/``; the number of files (0
    when the source has none for the day: nothing is changed then)."""
    if not source.list(f"{day.isoformat()}/"):
        return 0
    return len(copy_prefix(source, day.isoformat(), lake, f"{RAW_PREFIX}/{day.isoformat()}"))


@dataclass
class SparkRun:
    """What one spark-submit of the job did."""

    days: list[dict[str, Any]] = field(default_factory=list)  # the job's counts per day
    missing: list[str] = field(default_factory=list)  # days of the range without raw files
    log_tail: str = ""

    @property
    def refused(self) -> list[dict[str, Any]]:
        return [d for d in self.days if d.get("refused")]

    @property
    def written(self) -> list[date]:
        return [date.fromisoformat(d["trade_date"]) for d in self.days if not d.get("refused")]


class SparkJobFailed(RuntimeError):
    pass


def run_spark(lake: Storage, start: date, end: date | None = None) -> SparkRun:
    """spark-submit the job for ``start`` (or the range ``start``..``end``, one Spark session) on
    the lake's raw files; the Parquet of every accepted day replaces
    ``<lake>/curated/xetra_daily/YYYY-MM-DD/``. Refused days are reported, and their curated
    output is left as it was."""
    from pipeline.xetra.config import max_malformed_share, s3_options, setting, spark_submit_path
    from pipeline.xetra.spark_submit import s3a_confs, s3a_jars, spark_io_mode

    days = days_between(start, end if end is not None else start)
    ranged = end is not None
    with tempfile.TemporaryDirectory(prefix=f"xetra-{start.isoformat()}-") as tmp:
        work = Path(tmp)
        master = setting("spark_master")
        mode = spark_io_mode(setting("spark_io"), isinstance(lake, S3Storage), master)
        direct = mode == "direct"
        s3a_args: list[str] = []
        s3a_env: dict[str, str] = {}
        if direct:
            base = lake.url.replace("s3://", "s3a://", 1)
            raw_root, out_root = f"{base}/{RAW_PREFIX}", f"{base}/{CURATED_PREFIX}"
            s3a_args, s3a_env = s3a_confs(s3_options())
            jars = s3a_jars(setting("spark_jars"))
            if jars:
                s3a_args += ["--jars", ",".join(jars)]
        else:
            raw_root, out_root = str(work / "in"), str(work / "out")
            fetched = [
                d
                for d in days
                if lake.download_prefix(f"{RAW_PREFIX}/{d.isoformat()}", work / "in" / d.isoformat())
            ]
            if not fetched:
                raise FileNotFoundError(
                    f"nothing under {lake.url}/{RAW_PREFIX}/ for {days[0]}..{days[-1]}: run ingest first"
                )
        stats_file = work / "stats.json"
        cmd = [spark_submit_path(), "--master", master, *s3a_args]
        for kv in filter(None, setting("spark_conf").split(",")):
            cmd += ["--conf", kv.strip()]
        job = Path(setting("spark_job"))
        helpers = [str(job.parent / m) for m in ("xetra_rules.py", "xetra_days.py")]
        if all(Path(h).is_file() for h in helpers):  # the job's modules, for a remote driver
            cmd += ["--py-files", ",".join(helpers)]
        cmd.append(str(job))
        if ranged:
            cmd += ["--start", days[0].isoformat(), "--end", days[-1].isoformat(),
                    "--input", raw_root, "--output", out_root]  # fmt: skip
        else:
            cmd += ["--date", start.isoformat(), "--input", f"{raw_root}/{start.isoformat()}",
                    "--output", f"{out_root}/{start.isoformat()}"]  # fmt: skip
        cmd += ["--stats-file", str(stats_file), "--max-malformed-share", str(max_malformed_share())]
        env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
        env.update(s3a_env)  # the keys: in the environment, never on the command line
        if master.startswith(("local", "spark://127.0.0.1:", "spark://localhost:")):
            env.setdefault("SPARK_LOCAL_IP", "127.0.0.1")  # local mode or cluster: stay on loopback
        print("running: " + " ".join(cmd), flush=True)
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
        print(proc.stdout[-20000:], flush=True)
        if proc.returncode not in (0, EXIT_REFUSED) or not stats_file.exists():
            print(proc.stderr[-20000:], file=sys.stderr, flush=True)
            raise SparkJobFailed(f"spark-submit exited {proc.returncode}")
        payload = json.loads(stats_file.read_text(encoding="utf-8"))
        run = SparkRun(days=payload["days"], missing=payload.get("missing", []), log_tail=proc.stdout[-2000:])
        if not direct:
            for d in run.written:
                lake.upload_dir(
                    work / "out" / d.isoformat(), f"{CURATED_PREFIX}/{d.isoformat()}", replace=True
                )
    return run


def refusal_message(run: SparkRun) -> str:
    return "; ".join(f"{d['trade_date']}: {d['refused']}" for d in run.refused) + (
        " (nothing of these days was written or deleted)"
    )


def load_day(lake: Storage, day: date) -> int:
    """Replace the day's rows of xetra_daily_price by the day's curated Parquet (one transaction)."""
    import psycopg2

    from pipeline.xetra.config import postgres_connect_kwargs
    from pipeline.xetra.load import load_day as load_rows
    from pipeline.xetra.load import read_parquet_rows

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
        return load_rows(conn, day, rows)
    finally:
        conn.close()
