#!/usr/bin/env python3
"""Throughput of the Xetra Spark job against the pure-Python oracle on the same generated files.

    .venv/bin/python bench/spark/xetra_bench.py [--sizes 30x100,120x100] [--master local[2]]
        [--start 2019-01-01] [--seed 1] [--data DIR] [--repeat 1]
    # real-size days (pipeline.xetra.generate.REAL_DAY_ROWS lines each): a month and a year, on
    # Spark local[2] and on a standalone cluster of 1 and of 2 workers (1 core each)
    .venv/bin/python bench/spark/xetra_bench.py --real-size --days 31,365 \
        --targets local[2],standalone1,standalone2 --no-cli --data /tmp/xetra-bench-data

For each size DAYSxTICKERS: generate the files (cached below --data when given), then
  1. the oracle (``pipeline.xetra.reference.compute_day``, one process, day by day);
  2. Spark in this process: the backfill path (``run_range``: every day in one pass, Parquet
     written per day) in a session that is already up, so JVM start-up is excluded (the first run
     of the session still pays for class loading and code generation; --repeat >1 also shows
     warm runs);
  3. the backfill CLI end to end: ``spark-submit spark/xetra_daily_job.py --start --end`` as a
     subprocess, JVM and Python start-up included.
With ``--targets`` step 2 runs once per target: ``local[N]``, or ``standaloneK`` (a Spark
standalone master and K workers of 1 core each, ``localcluster.spark_cluster``, started for the
target and stopped after it). Each target's session start (JVM start-up, and for a cluster the
executors' registration) is reported apart. CPU-seconds per million data lines: the oracle's
process time; Spark's is the driver JVM plus every process of the cluster (executors), from /proc.
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


def proc_cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of ``pids`` (those that are gone count 0)."""
    total = 0.0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ValueError, IndexError):
            pass
    return total


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


def start_target(target: str, workdir: Path) -> tuple[Any, Any, float]:
    """(Spark session, cluster or None, seconds to start both) for ``local[N]`` or ``standaloneK``."""
    from pyspark.sql import SparkSession

    from localcluster.spark_cluster import SparkCluster

    t0 = time.perf_counter()
    cluster = None
    master = target
    builder = SparkSession.builder
    if target.startswith("standalone"):
        workers = int(target.removeprefix("standalone") or "2")
        cluster = SparkCluster(
            workdir / f"cluster-{workers}", workers=workers, cores=1, memory="1536m"
        ).start()
        master = cluster.master_url
        builder = builder.config("spark.executor.memory", "1g").config("spark.executor.cores", "1")
    try:
        spark = (
            builder.master(master)
            .appName(f"xetra-bench-{target}")
            .config("spark.ui.enabled", "false")
            .config("spark.driver.host", "127.0.0.1")  # stay on loopback
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.showConsoleProgress", "false")
            .getOrCreate()
        )
        spark.sparkContext.setLogLevel("ERROR")
        if cluster is not None:  # wait for the executors, so their start is counted here
            deadline = time.monotonic() + 300
            want = cluster.workers
            while time.monotonic() < deadline:
                if spark.sparkContext._jsc.sc().getExecutorMemoryStatus().size() - 1 >= want:
                    break
                time.sleep(0.5)
    except BaseException:
        if cluster is not None:  # no cluster left behind by a failed start
            cluster.stop()
        raise
    spark.conf.set("spark.sql.shuffle.partitions", str(max(2, spark.sparkContext.defaultParallelism)))
    return spark, cluster, time.perf_counter() - t0


def main() -> int:
    from pipeline.xetra.generate import REAL_DAY_ROWS, real_size_tickers

    ap = argparse.ArgumentParser(description="Spark job vs pure-Python oracle on generated PDS files")
    ap.add_argument("--sizes", default="30x100,120x100", help="comma-separated DAYSxTICKERS")
    ap.add_argument("--real-size", action="store_true", help=f"days of ~{REAL_DAY_ROWS:,} lines (--days)")
    ap.add_argument("--days", default="31,365", help="with --real-size: comma-separated day counts")
    ap.add_argument("--start", type=date.fromisoformat, default=date(2019, 1, 1))
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--master", default="local[2]", help="the target when --targets is not given")
    ap.add_argument("--targets", help="comma-separated: local[N], standalone1, standalone2, ...")
    ap.add_argument("--data", help="keep generated files here (reused across runs)")
    ap.add_argument("--repeat", type=int, default=1, help="in-session Spark runs per size")
    ap.add_argument("--no-cli", action="store_true", help="skip the spark-submit end-to-end run")
    args = ap.parse_args()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]  # progress lines when piped
    if args.real_size:
        tickers = real_size_tickers(args.seed)
        sizes = [(int(d), tickers) for d in args.days.split(",")]
    else:
        sizes = [tuple(int(x) for x in s.lower().split("x")) for s in args.sizes.split(",")]  # type: ignore[misc]
    targets = (args.targets or args.master).split(",")

    data_root = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="xetra-bench-"))
    scratch = Path(tempfile.mkdtemp(prefix="xetra-bench-out-"))
    commit = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True, check=False).stdout.strip()  # fmt: skip
    print(f"{time.strftime('%Y-%m-%d %H:%M %Z')}, commit {commit}, {os.cpu_count()} cores, "
          f"load average at start: {load_avg()}; argv: {' '.join(sys.argv[1:])}")  # fmt: skip
    job = load_job()
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")

    table: list[tuple[str, int, int, int, str, float, float, float, float]] = []
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
            print(f"  oracle: {py_s:.2f} s ({py_cpu:.2f} CPU-s), {rows / py_s:,.0f} rows/s ({rows:,} lines)")
            table.append(("oracle (Python, 1 process)", days, tickers, rows, "-", 0.0, py_s, py_cpu, load1()))

            for target in targets:
                spark, cluster, startup_s = start_target(target, scratch)
                print(f"  {target}: session start {startup_s:.1f} s", flush=True)
                try:
                    for i in range(args.repeat):
                        # no "[2]" in the path: Hadoop would read it as a glob
                        tag = target.replace("[", "").replace("]", "")
                        out = scratch / f"{days}x{tickers}-{tag}-{i}"
                        phases: dict[str, float] = {}
                        pids = cluster.pids() if cluster is not None else []
                        c1 = (jvm_cpu_seconds(spark) or 0.0) + proc_cpu_seconds(pids)
                        t1 = time.perf_counter()
                        _, stats, _ = job.run_range(
                            spark, str(src), str(out), args.start, end, timings=phases
                        )
                        wall = time.perf_counter() - t1
                        cpu = (jvm_cpu_seconds(spark) or 0.0) + proc_cpu_seconds(pids) - c1
                        split = ", ".join(f"{k} {v:.2f} s" for k, v in phases.items())
                        print(f"  {target} run {i + 1}: {wall:.2f} s, {rows / wall:,.0f} rows/s, "
                              f"{cpu:.1f} CPU-s ({split})")  # fmt: skip
                        bad = compare(spark, out, ref, stats)
                        failures += bad
                        if bad:
                            print(f"  MISMATCH: {bad} disagreements with the oracle", flush=True)
                        table.append((f"Spark {target}" + (f" run {i + 1}" if args.repeat > 1 else ""),
                                      days, tickers, rows, f"{startup_s:.1f} s", startup_s, wall, cpu,
                                      load1()))  # fmt: skip
                        shutil.rmtree(out, ignore_errors=True)
                finally:
                    spark.stop()
                    if cluster is not None:
                        cluster.stop()
                        if cluster.pids():
                            print(f"  LEFT OVER: {cluster.pids()}")
                            failures += 1

            if not args.no_cli:
                out = scratch / f"{days}x{tickers}-cli"
                cmd = [str(Path(sys.executable).parent / "spark-submit"), "--master", targets[0], str(JOB),
                       "--start", args.start.isoformat(), "--end", end.isoformat(),
                       "--input", str(src), "--output", str(out)]  # fmt: skip
                env = dict(os.environ, PYSPARK_PYTHON=sys.executable, PYSPARK_DRIVER_PYTHON=sys.executable)
                t1 = time.perf_counter()
                res = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
                cli_s = time.perf_counter() - t1
                if res.returncode != 0:
                    print(res.stderr[-3000:], file=sys.stderr)
                    failures += 1
                print(f"  spark-submit backfill ({targets[0]}): {cli_s:.1f} s (exit {res.returncode})")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
        if not args.data:
            shutil.rmtree(data_root, ignore_errors=True)

    print(f"\nload average at end: {load_avg()}")
    print("\n| engine | days x tickers | data lines | session start (apart) | run | rows/s "
          "| CPU-s per M lines | load (1 min) |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    for name, days, tickers, rows, start_cell, _, wall, cpu, load in table:
        print(f"| {name} | {days} x {tickers} | {rows:,} | {start_cell} | {wall:.1f} s | {rows / wall:,.0f} "
              f"| {cpu / rows * 1e6:.1f} | {load:.1f} |")  # fmt: skip
    print("results agree with the oracle" if failures == 0 else f"FAILURES: {failures}")
    return 0 if failures == 0 else 1


def load1() -> float:
    return os.getloadavg()[0]


if __name__ == "__main__":
    sys.exit(main())
