#!/usr/bin/env python3
"""Time the Xetra Spark job against the single-process pure-Python baseline on the same files.

    .venv/bin/python bench/spark/xetra_bench.py [--days 30] [--tickers 100] [--seed 1]
        [--master local[2]] [--data DIR] [--keep]

Generates --days calendar days (a month by default) of PDS files for --tickers instruments, then
processes every day with (1) spark/xetra_daily_job.py in one local Spark session, writing Parquet as the
DAG does, and (2) pipeline.xetra.reference.compute_day in this process. Prints data rows per second
for both (JVM start-up reported separately), and checks that both agree to 1e-9.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import shutil
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from pipeline.xetra import reference  # noqa: E402
from pipeline.xetra.generate import generate  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description="Spark job vs pure-Python baseline on a generated month")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--tickers", type=int, default=100)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--start", type=date.fromisoformat, default=date(2019, 1, 1))
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--data", help="work folder (default: a temp dir, removed unless --keep)")
    ap.add_argument("--keep", action="store_true")
    args = ap.parse_args()

    work = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="xetra-bench-"))
    src, out = work / "source", work / "parquet"
    try:
        t0 = time.perf_counter()
        summary = generate(src, args.start, args.days, args.tickers, args.seed)
        gen_s = time.perf_counter() - t0
        size_mb = sum(p.stat().st_size for p in src.rglob("*") if p.is_file()) / 1e6
        files = sum(1 for p in src.rglob("*.csv"))
        print(f"data: {args.days} days from {args.start}, {args.tickers} tickers, {files} files, "
              f"{size_mb:.1f} MB, {summary.data_rows} valid rows + {summary.malformed_rows} malformed "
              f"(generated in {gen_s:.1f} s)")  # fmt: skip
        days = [d.day for d in summary.days]

        # pure-Python baseline
        t0 = time.perf_counter()
        ref = {d: reference.compute_day(src / d.isoformat(), d) for d in days}
        py_s = time.perf_counter() - t0
        rows_read = sum(s.rows_read for _, s in ref.values())

        # Spark
        spec = importlib.util.spec_from_file_location(
            "xetra_spark_job", REPO / "spark" / "xetra_daily_job.py"
        )
        assert spec and spec.loader
        job = importlib.util.module_from_spec(spec)
        sys.modules["xetra_spark_job"] = job  # (dataclasses look their module up)
        spec.loader.exec_module(job)
        from pyspark.sql import SparkSession

        t0 = time.perf_counter()
        spark = (
            SparkSession.builder.master(args.master)
            .appName("xetra-bench")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.host", "127.0.0.1")  # local mode: stay on loopback
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "4")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        startup_s = time.perf_counter() - t0
        per_day: list[float] = []
        mismatches = 0
        for d in days:
            t1 = time.perf_counter()
            _, stats = job.run(spark, str(src / d.isoformat()), str(out / d.isoformat()), d)
            per_day.append(time.perf_counter() - t1)
            got = {r["isin"]: r for r in spark.read.parquet(str(out / d.isoformat())).collect()}
            exp, ref_stats = ref[d]
            if stats.rows_valid != ref_stats.rows_valid or len(got) != len(exp):
                mismatches += 1
                continue
            for e in exp:
                r = got[e.isin]
                if not math.isclose(r["mean_end_price"], e.mean_end_price, rel_tol=1e-9) or (
                    r["total_volume"] != e.total_volume
                ):
                    mismatches += 1
        spark_s = sum(per_day)
        spark.stop()

        print(f"python baseline : {py_s:8.2f} s  {rows_read / py_s:12,.0f} rows/s  (single process)")
        print(f"spark {args.master:<10}: {spark_s:8.2f} s  {rows_read / spark_s:12,.0f} rows/s  "
              f"(+{startup_s:.1f} s JVM/session start; first day {per_day[0]:.2f} s, "
              f"median day {sorted(per_day)[len(per_day) // 2]:.2f} s)")  # fmt: skip
        ratio = py_s / spark_s
        faster = "Spark faster" if ratio > 1 else "Python faster"
        print(f"spark/python throughput ratio: {ratio:.2f}x ({faster} at {rows_read / len(days):,.0f} "
              f"rows per day); results agree: {mismatches == 0}")  # fmt: skip
        return 0 if mismatches == 0 else 1
    finally:
        if not args.keep and not args.data:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
