#!/usr/bin/env python3
"""Where the Spark job's CPU per line goes: the job's query cut into growing prefixes, each run
in one session (JVM start-up apart), JVM CPU-seconds per million lines for each.

    .venv/bin/python bench/spark/xetra_profile.py DATA_FOLDER [--master local[2]] [--repeat 2]

DATA_FOLDER holds ``YYYY-MM-DD/`` folders of PDS files (e.g. one the bench generated below its
``--data``). Each step adds one part of ``spark/xetra_rules.py`` to the previous one: reading the
lines, the file path per line, the CSV parse, the rules (``kind``), the partial sums, and then the
whole backfill path (``run_range``: counts, figures, Parquet per day). The first round pays class
loading, code generation and JIT; later rounds show the steady state. CPU time is the driver
JVM's (local mode: all of Spark's work), less sensitive to other load than wall time.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

# run as a script: its folder (bench/spark) is on sys.path
from xetra_bench import REPO, jvm_cpu_seconds, load_avg, load_job, start_target

sys.path.insert(0, str(REPO / "spark"))  # the job's modules sit beside it, as spark-submit has them
import xetra_rules as rules  # noqa: E402


def steps(
    spark: Any, files: list[str], job: Any, folder: Path, days: list[date]
) -> dict[str, Callable[[], Any]]:
    from pyspark.sql import functions as F

    def lines() -> Any:
        return spark.read.text(files).select(
            F.col("value").alias("line"), F.col("_metadata.file_path").alias("_file")
        )

    out = Path(tempfile.mkdtemp(prefix="xetra-profile-"))
    return {
        "read lines (count)": lambda: spark.read.text(files).agg(F.count(F.lit(1))).collect(),
        "+ file path, count per file": lambda: lines().groupBy("_file").count().collect(),
        "+ from_csv (sum of ISIN lengths)": lambda: (
            lines()
            .where(F.col("line") != "")
            .select(F.from_csv("line", rules.SCHEMA, rules.CSV_OPTIONS).alias("r"))
            .agg(F.sum(F.length("r.ISIN")))
            .collect()
        ),
        "+ rules (count per kind)": lambda: rules.parse_lines(spark, files).groupBy("kind").count().collect(),
        "+ partial sums": lambda: (
            rules.partial_figures(rules.parse_lines(spark, files)).agg(F.count(F.lit(1))).collect()
        ),
        "whole run_range (counts, figures, Parquet)": lambda: job.run_range(
            spark, str(folder), str(out / str(time.monotonic_ns())), days[0], days[-1]
        ),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("folder", type=Path, help="a folder of YYYY-MM-DD/ day folders")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    days = sorted(date.fromisoformat(p.name) for p in args.folder.iterdir() if p.is_dir())
    files = sorted(f"file://{p}" for p in args.folder.glob("*/*_BINS_XETR*.csv"))
    lines = sum(sum(1 for _ in open(f[len("file://") :], "rb")) for f in files)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    print(f"{time.strftime('%Y-%m-%d %H:%M %Z')}, {len(days)} days, {len(files)} files, {lines:,} lines "
          f"(headers included), master {args.master}, load {load_avg()}")  # fmt: skip
    spark, cluster, startup = start_target(args.master, Path(tempfile.mkdtemp(prefix="xetra-profile-")))
    print(f"session start {startup:.1f} s, JVM CPU {jvm_cpu_seconds(spark) or 0.0:.1f} s so far")
    spark.conf.set("spark.sql.sources.parallelPartitionDiscovery.threshold", str(len(files) + 1))
    try:
        todo = steps(spark, files, load_job(), args.folder, days)
        for round_ in range(1, args.repeat + 1):
            for name, run in todo.items():
                c0, t0 = jvm_cpu_seconds(spark) or 0.0, time.perf_counter()
                run()
                wall, cpu = time.perf_counter() - t0, (jvm_cpu_seconds(spark) or 0.0) - c0
                print(f"round {round_} | {name} | {wall:.1f} s | {cpu:.1f} CPU-s | "
                      f"{cpu / lines * 1e6:.1f} CPU-s per M lines | load {load_avg()}")  # fmt: skip
    finally:
        spark.stop()
        if cluster is not None:
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
