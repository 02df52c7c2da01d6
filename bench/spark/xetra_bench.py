#!/usr/bin/env python3
"""Throughput of the Xetra Spark job against the pure-Python oracle on the same generated files.

    .venv/bin/python bench/spark/xetra_bench.py [--sizes 30x100,120x100] [--master local[2]]
        [--start 2019-01-01] [--seed 1] [--data DIR] [--repeat 1]

For each size DAYSxTICKERS: generate the files (cached below --data when given), then
  1. the oracle (``pipeline.xetra.reference.compute_day``, one process, day by day);
  2. Spark in this process: the backfill path (``run_range``: every day in one pass, Parquet
     written per day) in a session that is already up, so JVM start-up is excluded (the first run
     of the session still pays for class loading and code generation; --repeat >1 also shows
     warm runs);
  3. the backfill CLI end to end: ``spark-submit spark/xetra_daily_job.py --start --end`` as a
     subprocess, JVM and Python start-up included.
Checks that the Spark results equal the oracle's (counts exactly, figures to 1e-9) and prints a
Markdown table of rows/s (data lines read per second) with the load average before and after.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from pipeline.xetra import reference
from pipeline.xetra.generate import generate

REPO = Path(__file__).resolve().parents[2]

JOB = REPO / "spark" / "xetra_daily_job.py"


def load_job() -> Any:
    spec = importlib.util.spec_from_file_location("xetra_spark_job", JOB)
    assert spec and spec.loader
    job = importlib.util.module_from_spec(spec)
    sys.modules["xetra_spark_job"] = job  # (dataclasses look their module up)
    spec.loader.exec_module(job)
    return job


def jvm_cpu_seconds(spark: Any) -> float | None:
    """User + system CPU time of the Spark driver JVM (local mode: the whole of Spark's work),
    from /proc; None where that is not available. Less sensitive to other load than wall time."""
    try:
        pid = spark.sparkContext._gateway.proc.pid  # spark-submit execs the JVM: the same process
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (AttributeError, OSError, ValueError, IndexError):
        return None


def load_avg() -> str:
    return " ".join(f"{x:.1f}" for x in os.getloadavg())


def dataset(root: Path, start: date, days: int, tickers: int, seed: int) -> Path:
    folder = root / f"{start.isoformat()}_{days}d_{tickers}t_s{seed}"
    done = folder / ".complete"
    if not done.exists():
        shutil.rmtree(folder, ignore_errors=True)
        t0 = time.perf_counter()
        generate(folder, start, days, tickers, seed)
        done.write_text("")
        print(f"  generated {folder} in {time.perf_counter() - t0:.1f} s", flush=True)
    return folder


def compare(spark: Any, out: Path, ref: dict[date, Any], stats: dict[date, Any]) -> int:
    """Number of disagreements between the job's output/counts and the oracle's."""
    bad = 0
    for day, (expected, rs) in ref.items():
        s = stats[day]
        if (s.rows_valid, s.rows_malformed, s.malformed_by_kind) != (
            rs.rows_valid,
            rs.rows_malformed,
            rs.malformed_by_kind,
        ):
            bad += 1
            continue
        got = {r["isin"]: r for r in spark.read.parquet(str(out / day.isoformat())).collect()}
        if len(got) != len(expected):
            bad += 1
            continue
        for e in expected:
            r = got[e.isin]
            same = (
                r["mnemonic"] == e.mnemonic
                and (r["total_volume"], r["num_trades"], r["num_bars"])
                == (e.total_volume, e.num_trades, e.num_bars)
                and math.isclose(r["mean_end_price"], e.mean_end_price, rel_tol=1e-9)
                and (r["vwap"] is None) == (e.vwap is None)
                and (e.vwap is None or math.isclose(r["vwap"], e.vwap, rel_tol=1e-9))
            )
            bad += not same
    return bad


def main() -> int:
    ap = argparse.ArgumentParser(description="Spark job vs pure-Python oracle on generated PDS files")
    ap.add_argument("--sizes", default="30x100,120x100", help="comma-separated DAYSxTICKERS")
    ap.add_argument("--start", type=date.fromisoformat, default=date(2019, 1, 1))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--data", help="keep generated files here (reused across runs)")
    ap.add_argument("--repeat", type=int, default=1, help="in-session Spark runs per size")
    ap.add_argument("--no-cli", action="store_true", help="skip the spark-submit end-to-end run")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress lines when piped
    sizes = [tuple(int(x) for x in s.lower().split("x")) for s in args.sizes.split(",")]

    data_root = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="xetra-bench-"))
    scratch = Path(tempfile.mkdtemp(prefix="xetra-bench-out-"))
    print(f"load average at start: {load_avg()} ({os.cpu_count()} cores)", flush=True)
    job = load_job()
    from pyspark.sql import SparkSession

    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    t0 = time.perf_counter()
    spark = (
        SparkSession.builder.master(args.master)
        .appName("xetra-bench")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.host", "127.0.0.1")  # local mode: stay on loopback
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    spark.conf.set("spark.sql.shuffle.partitions", str(max(2, spark.sparkContext.defaultParallelism)))
    startup_s = time.perf_counter() - t0
    print(f"Spark session start (JVM start-up): {startup_s:.1f} s", flush=True)

    table = []
    failures = 0
    try:
        for days, tickers in sizes:
            print(f"{days} days x {tickers} tickers:", flush=True)
            src = dataset(data_root, args.start, days, tickers, args.seed)
            end = args.start + timedelta(days=days - 1)
            day_list = [args.start + timedelta(days=i) for i in range(days)]

            t1, c0 = time.perf_counter(), time.process_time()
            ref = {d: reference.compute_day(src / d.isoformat(), d) for d in day_list}
            py_s, py_cpu = time.perf_counter() - t1, time.process_time() - c0
            rows = sum(s.rows_read for _, s in ref.values())
            rate = rows / py_s
            print(f"  oracle: {py_s:.2f} s ({py_cpu:.2f} CPU-s), {rate:,.0f} rows/s ({rows:,} data lines)")

            spark_runs = []
            for i in range(args.repeat):
                out = scratch / f"{days}x{tickers}-{i}"
                phases: dict[str, float] = {}
                c1 = jvm_cpu_seconds(spark)
                t1 = time.perf_counter()
                _, stats, _ = job.run_range(spark, str(src), str(out), args.start, end, timings=phases)
                spark_runs.append(time.perf_counter() - t1)
                c2 = jvm_cpu_seconds(spark)
                split = ", ".join(f"{k} {v:.2f} s" for k, v in phases.items())
                if c1 is not None and c2 is not None:
                    split += f"; JVM {c2 - c1:.2f} CPU-s"
                rate = rows / spark_runs[-1]
                print(f"  spark run {i + 1}: {spark_runs[-1]:.2f} s, {rate:,.0f} rows/s ({split})")
                bad = compare(spark, out, ref, stats)
                failures += bad
                if bad:
                    print(f"  MISMATCH: {bad} disagreements with the oracle", flush=True)

            cli_s = None
            if not args.no_cli:
                out = scratch / f"{days}x{tickers}-cli"
                cmd = [str(Path(sys.executable).parent / "spark-submit"), "--master", args.master, str(JOB),
                       "--start", args.start.isoformat(), "--end", end.isoformat(),
                       "--input", str(src), "--output", str(out)]  # fmt: skip
                env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
                t1 = time.perf_counter()
                res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
                cli_s = time.perf_counter() - t1
                if res.returncode != 0:
                    print(res.stderr[-3000:], file=sys.stderr)
                    failures += 1
                print(
                    f"  spark-submit backfill end to end: {cli_s:.1f} s (exit {res.returncode})", flush=True
                )
            table.append((days, tickers, rows, py_s, spark_runs, cli_s))
    finally:
        spark.stop()
        shutil.rmtree(scratch, ignore_errors=True)
        if not args.data:
            shutil.rmtree(data_root, ignore_errors=True)

    print(f"\nload average at end: {load_avg()}")
    print("\n| days x tickers | data lines | oracle (Python) | Spark, JVM start excluded (first run) "
          "| Spark / oracle | backfill CLI end to end, JVM start included |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for days, tickers, rows, py_s, runs, cli_s in table:
        first = runs[0]
        warm = f"; warm {rows / min(runs[1:]):,.0f}/s" if len(runs) > 1 else ""
        cli = f"{cli_s:.1f} s ({rows / cli_s:,.0f} rows/s)" if cli_s else "-"
        oracle = f"{py_s:.2f} s ({rows / py_s:,.0f} rows/s)"
        spark_cell = f"{first:.2f} s ({rows / first:,.0f} rows/s{warm})"
        print(f"| {days} x {tickers} | {rows:,} | {oracle} | {spark_cell} | {py_s / first:.2f}x | {cli} |")
    print(f"(Spark session start, excluded above: {startup_s:.1f} s; master {args.master})")
    print("results agree with the oracle" if failures == 0 else f"FAILURES: {failures}")
    return 0 if failures == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
